"""Run the reliability suite and print what it measured, one line per figure.

python -m tests.reliability.report                   # runs pytest on tests/reliability first
python -m tests.reliability.report -- -k "not slow"  # with extra pytest arguments
python -m tests.reliability.report --from FILE       # figures an earlier run wrote (RELIABILITY_FIGURES=FILE)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.reliability.figures import FIGURES_ENV, load

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.report", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a figures file (JSON lines) to print instead")
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for pytest")
    args = parser.parse_args(argv)
    if args.source:
        figures, code, summary = load(args.source), 0, f"from {args.source}"
    else:
        with tempfile.TemporaryDirectory(prefix="kb-reliability-") as tmp:
            path = Path(tmp) / "figures.jsonl"
            started = time.monotonic()
            code = subprocess.call(
                [sys.executable, "-m", "pytest", "tests/reliability", "-q", *args.pytest_args],
                cwd=REPO,
                env={**os.environ, FIGURES_ENV: str(path)},
            )
            figures = load(path)
            summary = f"pytest exit {code}, {time.monotonic() - started:.0f} s"
    print(f"\nreliability figures ({summary}):")
    for figure in figures:
        print(figure.line())
    return code


if __name__ == "__main__":
    sys.exit(main())
