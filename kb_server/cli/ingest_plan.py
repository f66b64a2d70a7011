"""Which local files `kb-server ingest` sends: walking directories, globs, types, hashes, batches."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TypeVar

from ingestion.filetypes import SUPPORTED_EXTENSIONS

HASH_CHUNK = 1 << 20
T = TypeVar("T")


class PlanError(Exception):
    """A path given on the command line that cannot be read."""


@dataclass(frozen=True)
class LocalFile:
    path: Path  # as the user wrote it, joined with the walked part
    rel: str  # relative to the directory given (the name for a file given), with '/': what globs match
    size: int

    @property
    def supported(self) -> bool:
        return self.path.suffix.lower() in SUPPORTED_EXTENSIONS


def selected(rel: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """fnmatch globs on the relative path (`*` crosses `/`, so `*.pdf` matches at any depth)."""
    if include and not any(fnmatch(rel, g) for g in include):
        return False
    return not any(fnmatch(rel, g) for g in exclude)


def collect(
    paths: Sequence[Path], *, recursive: bool, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[LocalFile]:
    """Every file named or found under the directories named, filtered by the globs, each once.

    Hidden entries (`.name`) inside directories are skipped; directory symlinks are not followed.

    Raises:
        PlanError: a path does not exist or is neither a file nor a directory.
    """
    found: list[LocalFile] = []
    seen: set[Path] = set()
    for given in paths:
        if given.is_file():
            candidates: Iterable[tuple[Path, str]] = [(given, given.name)]
        elif given.is_dir():
            candidates = _walk(given, recursive)
        elif given.exists():
            raise PlanError(f"{given}: not a regular file or directory")
        else:
            raise PlanError(f"{given}: no such file or directory")
        for path, rel in candidates:
            real = path.resolve()
            if real in seen or not selected(rel, include, exclude):
                continue
            seen.add(real)
            try:
                size = path.stat().st_size
            except OSError as exc:
                raise PlanError(f"{path}: {exc.strerror}") from exc
            found.append(LocalFile(path, rel, size))
    return found


def _walk(root: Path, recursive: bool) -> Iterable[tuple[Path, str]]:
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        base = Path(directory)
        for name in sorted(names):
            path = base / name
            if not name.startswith(".") and path.is_file():
                yield path, path.relative_to(root).as_posix()


def sha256_of(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest()


def batches(items: Sequence[T], size_of: Callable[[T], int], max_files: int, max_bytes: int) -> list[list[T]]:
    """Consecutive groups of at most `max_files` items and `max_bytes` (a bigger item goes alone)."""
    groups: list[list[T]] = []
    current: list[T] = []
    total = 0
    for item in items:
        size = size_of(item)
        if current and (len(current) >= max_files or total + size > max_bytes):
            groups.append(current)
            current, total = [], 0
        current.append(item)
        total += size
    if current:
        groups.append(current)
    return groups
