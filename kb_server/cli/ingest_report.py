"""What `kb-server ingest` reports: each local file's outcome, as a table or as JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from kb_server.cli.ingest_plan import LocalFile
from kb_server.cli.terminal import Display

OUTCOMES = ("done", "duplicate", "already", "rejected", "failed", "cancelled", "skipped")
LABELS = {
    "done": "done",
    "duplicate": "duplicate",
    "already": "already in the KB",
    "rejected": "rejected",
    "failed": "failed",
    "cancelled": "cancelled",
    "skipped": "skipped (unsupported type)",
}


@dataclass(eq=False)
class Entry:
    """One local file's way through the run; `outcome` is `pending` until sent, `queued` until settled."""

    local: LocalFile
    outcome: str = "pending"
    sha256: str | None = None
    file_id: int | None = None
    status: str | None = None  # the server's status of the file
    chunks: int | None = None
    code: str | None = None
    reason: str | None = None
    twin: Entry | None = None  # the local file with the same bytes that was sent instead
    version: int | None = None  # a new version of a document already in the KB: the file it replaces
    replaces: int | None = None
    name: str | None = None  # the name it is sent under, when not the file's own (sync: its relative path)

    @property
    def upload_name(self) -> str:
        return self.name or self.local.path.name

    def settle(self, outcome: str, code: str | None = None, reason: str | None = None) -> None:
        self.outcome, self.code, self.reason = outcome, code, reason

    @property
    def ok(self) -> bool:
        return self.outcome not in ("failed", "rejected", "cancelled") and self.status not in ("failed", "cancelled")

    def public(self) -> dict[str, Any]:
        return {
            "path": str(self.local.path),
            "outcome": self.outcome,
            "status": self.status,
            "file_id": self.file_id,
            "sha256": self.sha256,
            "size": self.local.size,
            "chunks": self.chunks,
            "code": self.code,
            "reason": self.reason,
            "version": self.version,
            "replaces": self.replaces,
        }


def count(entries: list[Entry]) -> dict[str, int]:
    counts = Counter(e.outcome for e in entries)
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


def summary(kb: str, url: str, entries: list[Entry]) -> dict[str, Any]:
    """The `--json` output."""
    return {
        "kb": kb,
        "url": url,
        "ok": all(e.ok for e in entries),
        "counts": count(entries),
        "files": [e.public() for e in entries],
    }


def show_summary(display: Display, entries: list[Entry]) -> None:
    counts = count(entries)
    display.table("Summary", ["outcome", "files"], [(LABELS[o], n) for o, n in counts.items() if n])
    attention = [
        e for e in entries if e.outcome in ("duplicate", "rejected", "failed", "cancelled") or e.status == "failed"
    ]
    if attention:
        rows = [(e.local.path, LABELS[e.outcome], _why(e)) for e in attention]
        display.table("Files", ["file", "outcome", "reason"], rows)
    versions = [e for e in entries if e.replaces is not None]
    if versions:
        changed = [(e.local.path, f"v{e.version}", e.replaces, _version_outcome(e)) for e in versions]
        display.table("New versions", ["file", "version", "replaces file", "outcome"], changed)
    total = sum(n for o, n in counts.items() if o != "skipped")
    parts = ", ".join(f"{n} {LABELS[o]}" for o, n in counts.items() if n and o != "skipped")
    display.note(f"{total} file{'' if total == 1 else 's'}: {parts or 'nothing to ingest'}")


def _why(e: Entry) -> str:
    reason = f"{e.code}: {e.reason}" if e.code and e.reason else e.reason or e.code or ""
    return f"failed in the KB: {reason}" if e.outcome == "already" else reason


def _version_outcome(e: Entry) -> str:
    if e.status == "done":
        return "replaced the old version"
    return f"{e.status or e.outcome}: the old version still serves"
