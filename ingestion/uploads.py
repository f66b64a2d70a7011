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


class UploadStore:
    def __init__(self, root: Path, tmp_dir: Path) -> None:
        self.root = root
        self.tmp_dir = tmp_dir

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def stage(self, source: BinaryIO | Iterable[bytes], max_bytes: int | None = None) -> StagedBlob:
        """Stream into a temp file while hashing.

        Raises:
            OverflowError: more than `max_bytes` arrived (the temp file is removed).
        """
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                for block in _blocks(source):
                    size += len(block)
                    if max_bytes is not None and size > max_bytes:
                        raise OverflowError(f"more than {max_bytes} bytes")
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StagedBlob(digest.hexdigest(), size, Path(tmp_name))

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
