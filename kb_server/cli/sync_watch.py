"""Filesystem events under a folder (watchdog), debounced for `kb-server sync --watch`.

Each changed path is handed out once it has been quiet for `quiet_s`, so a file being written
(many `modified` events) is synced once, after its last write. A directory created, moved or
deleted asks for a full rescan instead (its files may have come or gone with no event of their
own). Opening or reading a file is no change: sync's own hashing must not wake it up again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

CHANGES = (EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED, EVENT_TYPE_DELETED, EVENT_TYPE_MOVED, EVENT_TYPE_CLOSED)
STOP_TIMEOUT_S = 5.0


@dataclass
class Changes:
    paths: set[str] = field(default_factory=set)  # relative to the folder, with '/'
    rescan: bool = False

    def __bool__(self) -> bool:
        return self.rescan or bool(self.paths)


class FolderWatch(FileSystemEventHandler):
    """Use as a context manager: events are collected from `__enter__` to `__exit__`."""

    def __init__(self, root: Path, *, recursive: bool, quiet_s: float, watched: Callable[[str], bool]) -> None:
        self.root = root.resolve()
        self.recursive, self.quiet_s, self.watched = recursive, quiet_s, watched
        self._lock = threading.Lock()
        self._due: dict[str, float] = {}  # path -> when it may be handed out
        self._rescan_at: float | None = None
        self._observer = Observer()

    def __enter__(self) -> FolderWatch:
        self._observer.schedule(self, str(self.root), recursive=self.recursive)
        self._observer.start()
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self._observer.stop()
        self._observer.join(STOP_TIMEOUT_S)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in CHANGES:
            return
        now = time.monotonic()
        if event.is_directory:
            if event.event_type != EVENT_TYPE_MODIFIED:
                with self._lock:
                    self._rescan_at = now + self.quiet_s
            return
        for raw in (event.src_path, event.dest_path):
            rel = self._relative(os.fsdecode(raw)) if raw else None
            if rel is not None and self.watched(rel):
                with self._lock:
                    self._due[rel] = now + self.quiet_s

    def retry(self, changes: Changes, delay_s: float) -> None:
        """Hand these out again after `delay_s` (a pass that could not reach the server)."""
        at = time.monotonic() + delay_s
        with self._lock:
            for rel in changes.paths:
                self._due[rel] = max(self._due.get(rel, 0.0), at)
            if changes.rescan:
                self._rescan_at = max(self._rescan_at or 0.0, at)

    def quiet(self, timeout_s: float) -> Changes:
        """The changes quiet for `quiet_s` now, waiting up to `timeout_s` for some."""
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.monotonic()
            with self._lock:
                ready = Changes({p for p, at in self._due.items() if at <= now})
                for p in ready.paths:
                    del self._due[p]
                if self._rescan_at is not None and self._rescan_at <= now:
                    ready.rescan, self._rescan_at = True, None
            if ready or now >= deadline:
                return ready
            time.sleep(min(0.1, max(0.0, deadline - now)))

    def _relative(self, path: str) -> str | None:
        try:
            rel = Path(path).relative_to(self.root)
        except ValueError:
            return None
        return rel.as_posix()
