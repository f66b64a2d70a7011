"""Uploaded bytes, stored content-addressed by sha256 (client file names are never paths).

An upload is first staged (streamed to a temp file in the data dir while hashing), checked, and
only then committed into the store (an atomic rename into the data dir, or a copy into the
catalog's database: see `vectorstore.byte_store`); identical bytes are stored once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vectorstore.byte_store import ByteStore, LocalByteStore, local_path

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
    """Committed uploads, named `<sha256[:2]>/<sha256>` in a byte store (a folder of the data dir
    when given a path); staging is always local, in `tmp_dir`."""

    def __init__(self, root: Path | ByteStore, tmp_dir: Path) -> None:
        self.store = LocalByteStore(root) if isinstance(root, Path) else root
        self.tmp_dir = tmp_dir

    def path(self, sha256: str) -> Path:
        """Where a local store keeps those bytes.

        Raises:
            TypeError: the bytes are not in the data dir.
        """
        return local_path(self.store, _name(sha256))

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

    def commit(self, staged: StagedBlob) -> None:
        """Put the staged bytes in the store (once: identical bytes are already there)."""
        name = _name(staged.sha256)
        if self.store.exists(name):
            staged.tmp_path.unlink(missing_ok=True)
        else:
            self.store.move_in(name, staged.tmp_path)

    def discard(self, staged: StagedBlob) -> None:
        staged.tmp_path.unlink(missing_ok=True)

    def exists(self, sha256: str) -> bool:
        return self.store.exists(_name(sha256))

    def local_file(self, sha256: str) -> AbstractContextManager[Path | None]:
        """A local file with those bytes while the context lasts; None if they are not stored."""
        return self.store.local_file(_name(sha256))

    def delete(self, sha256: str) -> None:
        self.store.delete(_name(sha256))

    def all_shas(self) -> list[str]:
        return sorted(n.rpartition("/")[2] for n in self.store.names("") if len(n.rpartition("/")[2]) == 64)

    def written_at(self) -> dict[str, float]:
        """sha256 -> when its bytes were stored (seconds since the epoch), for every stored upload."""
        found = {n.rpartition("/")[2]: stat[1] for n, stat in self.store.stats("").items()}
        return {sha: at for sha, at in sorted(found.items()) if len(sha) == 64}

    def name(self, sha256: str) -> str:
        """The object's name in the byte store."""
        return _name(sha256)


def _name(sha256: str) -> str:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return f"{sha256[:2]}/{sha256}"


def _blocks(source: BinaryIO | Iterable[bytes]) -> Iterable[bytes]:
    if hasattr(source, "read"):
        while block := source.read(HASH_CHUNK):
            yield block
    else:
        yield from source
