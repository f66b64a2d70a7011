"""Copying every object of one `ByteStore` into another (`kb-server storage migrate`).

Safe to run again after an interruption: the target writes each object atomically, and an object
already there with the same bytes is skipped, so a second run copies only what the first did not.
Nothing is ever deleted, in either store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from vectorstore.byte_store import ByteStore

BLOCK_BYTES = 1 << 20


@dataclass
class CopyTally:
    copied: int = 0
    copied_bytes: int = 0
    skipped: int = 0  # already in the target with the same bytes
    skipped_bytes: int = 0
    only_in_target: int = 0  # left alone: the target's own objects are not the source's to remove


# Called after each object: (name, its size, True if it was copied, False if it was skipped).
Progress = Callable[[str, int, bool], None]


def copy_objects(
    source: ByteStore, target: ByteStore, *, content_named: bool, progress: Progress | None = None
) -> CopyTally:
    """Copy every object of `source` that `target` lacks or holds with other bytes.

    Objects stream through in blocks (a local file of the source's, see `ByteStore.local_file`):
    a 200 MiB upload is never held in memory. With `content_named` (uploads, named by their
    sha256), the same name and size means the same bytes; otherwise objects of the same size are
    compared byte for byte too (segments and keyword blocks: small, and read whole by readers anyway).

    Raises:
        OSError: either store could not be read or written (what was copied before stays).
    """
    tally = CopyTally()
    theirs = target.stats()
    ours = source.stats()
    tally.only_in_target = len(theirs.keys() - ours.keys())
    for name, (size, _) in ours.items():
        there = theirs.get(name)
        if there is not None and there[0] == size and (content_named or _same_bytes(source, target, name)):
            tally.skipped, tally.skipped_bytes = tally.skipped + 1, tally.skipped_bytes + size
            copied = False
        else:
            written = _copy(source, target, name)
            if written is None:
                continue  # deleted from the source since it was listed
            size, copied = written, True
            tally.copied, tally.copied_bytes = tally.copied + 1, tally.copied_bytes + written
        if progress is not None:
            progress(name, size, copied)
    return tally


def _copy(source: ByteStore, target: ByteStore, name: str) -> int | None:
    """Stream one object across; the bytes written, None if the source no longer has it."""
    written = 0

    def blocks(handle: BinaryIO) -> Iterator[bytes]:
        nonlocal written
        while block := handle.read(BLOCK_BYTES):
            written += len(block)
            yield block

    with source.local_file(name) as path:
        if path is None:
            return None
        with path.open("rb") as handle:
            target.write(name, blocks(handle))
    return written


def _same_bytes(source: ByteStore, target: ByteStore, name: str) -> bool:
    ours = source.read(name)
    return ours is not None and ours == target.read(name)
