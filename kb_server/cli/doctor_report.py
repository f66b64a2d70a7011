"""The doctor's report: what was found, what was repaired, and how it is printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Finding:
    check: str
    detail: str
    fix: Callable[[], str] | None = None
    repaired: str | None = None
    repair_error: str | None = None

    @property
    def outcome(self) -> str:
        if self.repaired or self.repair_error:
            return f" -> repaired: {self.repaired}" if self.repaired else f" -> repair failed: {self.repair_error}"
        return "" if self.fix else " (not repairable here)"


@dataclass
class Report:
    data_dir: Path
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return all(f.repaired is not None for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        findings = [
            {k: v for k, v in vars(f).items() if k != "fix"} | {"repairable": bool(f.fix)} for f in self.findings
        ]
        return {**vars(self), "data_dir": str(self.data_dir), "consistent": self.consistent, "findings": findings}


def print_report(report: Report, *, as_json: bool) -> int:
    """Print the report; exit code 0 when consistent (or everything found was repaired), 1 otherwise."""
    if as_json:
        print(json.dumps(report.as_dict(), indent=2), flush=True)
        return 0 if report.consistent else 1
    lines = [f"kb-server doctor: {report.data_dir}"] + [f"  {note}" for note in report.notes]
    lines += ["  " + ", ".join(f"{k} {v}" for k, v in report.counts.items())] if report.counts else []
    lines += [f"  [{f.check}] {f.detail}{f.outcome}" for f in report.findings]
    left = sum(f.repaired is None for f in report.findings)
    lines.append(f"{len(report.findings)} problem(s), {left} left" if report.findings else "consistent")
    print("\n".join(lines), flush=True)
    return 0 if report.consistent else 1
