"""Uploaded bytes, stored content-addressed by sha256 (client file names are never paths).

An upload is first staged (streamed to a temp file in the data dir while hashing), checked, and
only then committed into the store by an atomic rename; identical bytes are stored once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class StagedBlob:
    sha256: str
    size: int
    tmp_path: Path

    def head(self, n: int) -> bytes:
        with self.tmp_path.open("rb") as handle:
            return handle.read(n)


class StagingWriter:
    """Receives an upload piece by piece (e.g. from a streaming multipart parser)."""

    def __init__(self, tmp_dir: Path, max_bytes: int | None) -> None:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.size = 0
        self._max = max_bytes
        self._digest = hashlib.sha256()

    def write(self, block: bytes | bytearray) -> None:
        """Raises: OverflowError past `max_bytes` (call `abort` then)."""
        self.size += len(block)
        if self._max is not None and self.size > self._max:
            raise OverflowError(f"more than {self._max} bytes")
        self._digest.update(block)
        self._file.write(block)

    def finish(self) -> StagedBlob:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return StagedBlob(self._digest.hexdigest(), self.size, self.path)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class UploadStore:
    def __init__(self, root: Path, tmp_dir: Path) -> None:
        self.root = root
        self.tmp_dir = tmp_dir

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def open_staging(self, max_bytes: int | None = None) -> StagingWriter:
        """A temp file in the data dir that hashes what is written to it."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return StagingWriter(self.tmp_dir, max_bytes)

    def stage(self, source: BinaryIO | Iterable[bytes], max_bytes: int | None = None) -> StagedBlob:
        """Stream into a temp file while hashing.

        Raises:
            OverflowError: more than `max_bytes` arrived (the temp file is removed).
        """
        writer = self.open_staging(max_bytes)
        try:
            for block in _blocks(source):
                writer.write(block)
            return writer.finish()
        except BaseException:
            writer.abort()
            raise

    def commit(self, staged: StagedBlob) -> Path:
        target = self.path(staged.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            staged.tmp_path.unlink(missing_ok=True)
        else:
            os.replace(staged.tmp_path, target)
        return target

    def discard(self, staged: StagedBlob) -> None:
        staged.tmp_path.unlink(missing_ok=True)

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def all_shas(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.glob("??/*") if len(p.name) == 64)


def _blocks(source: BinaryIO | Iterable[bytes]) -> Iterable[bytes]:
    if hasattr(source, "read"):
        while block := source.read(HASH_CHUNK):
            yield block
    else:
        yield from source
