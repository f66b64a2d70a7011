"""What `kb-server sync` reports: how many files it added, sent as new versions, found unchanged,
deleted, found duplicate, failed on or skipped, as a table or as JSON. A watch adds up its passes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kb_server.cli.terminal import Display

OUTCOMES = ("added", "new_version", "unchanged", "deleted", "duplicate", "failed", "skipped")
LABELS = {
    "added": "added",
    "new_version": "new versions",
    "unchanged": "unchanged",
    "deleted": "deleted",
    "duplicate": "duplicate (bytes already in the KB)",
    "failed": "failed",
    "skipped": "skipped (unsupported type)",
}


@dataclass(frozen=True)
class Outcome:
    outcome: str
    name: str
    file_id: int | None = None
    reason: str = ""


@dataclass
class SyncTally:
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: str, name: str, file_id: int | None = None, reason: str = "") -> None:
        self.outcomes.append(Outcome(outcome, name, file_id, reason))

    def counts(self) -> dict[str, int]:
        return {o: sum(x.outcome == o for x in self.outcomes) for o in OUTCOMES}

    @property
    def ok(self) -> bool:
        return not any(x.outcome == "failed" for x in self.outcomes)

    def public(self, kb: str, url: str, directory: str) -> dict[str, Any]:
        """The `--json` output."""
        return {
            "kb": kb,
            "url": url,
            "directory": directory,
            "ok": self.ok,
            "counts": self.counts(),
            "files": [
                {"name": x.name, "outcome": x.outcome, "file_id": x.file_id, "reason": x.reason or None}
                for x in self.outcomes
            ],
        }

    def show(self, display: Display) -> None:
        counts = self.counts()
        display.table("Summary", ["outcome", "files"], [(LABELS[o], n) for o, n in counts.items() if n])
        attention = [x for x in self.outcomes if x.outcome in ("failed", "duplicate")]
        if attention:
            display.table("Files", ["file", "outcome", "reason"], [(x.name, x.outcome, x.reason) for x in attention])
        parts = [f"{counts[o]} {LABELS[o].split(' (')[0]}" for o in OUTCOMES if o != "skipped"]
        display.note("sync: " + ", ".join(parts))
