"""The figures the reliability tests measure, one line each, for `python -m tests.reliability.report`.

Tests record a `Figure`; the suite prints them all at the end of the run, and when the environment
names a file in `RELIABILITY_FIGURES` each figure is appended there as a JSON line too.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.reliability.probe import ChunkTally

FIGURES_ENV = "RELIABILITY_FIGURES"

COLUMNS = (
    ("submitted", "submitted"),
    ("ingested", "ingested"),
    ("duplicates", "duplicates"),
    ("lost", "lost"),
    ("inputs", "inputs tried"),
    ("server_errors", "5xx"),
)


@dataclass
class Figure:
    name: str
    submitted: int | None = None
    ingested: int | None = None
    duplicates: int | None = None
    lost: int | None = None
    inputs: int | None = None
    server_errors: int | None = None
    note: str = ""

    def line(self) -> str:
        shown = {key: "-" if getattr(self, key) is None else getattr(self, key) for key, _ in COLUMNS}
        values = ", ".join(f"{label} {shown[key]}" for key, label in COLUMNS)
        return f"{self.name}: {values}" + (f"  ({self.note})" if self.note else "")


RECORDED: list[Figure] = []


def record(figure: Figure) -> Figure:
    RECORDED.append(figure)
    target = os.environ.get(FIGURES_ENV)
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(figure)) + "\n")
    return figure


def record_batch(
    name: str, submitted: int, files: list[dict[str, Any]], tally: ChunkTally, note: str
) -> list[dict[str, Any]]:
    """Record the figure of a batch each of whose files must be ingested once; returns those done."""
    done = [f for f in files if f["status"] == "done"]
    record(
        Figure(
            name,
            submitted=submitted,
            ingested=len(done),
            duplicates=tally.duplicates,
            lost=submitted - len(done),
            note=note,
        )
    )
    return done


def load(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    return [Figure(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
