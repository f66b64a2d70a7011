"""The benchmarks measure the product as shipped: none of them may import the test tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _imported_modules(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
    return modules


def test_no_benchmark_imports_the_tests() -> None:
    scripts = sorted(BENCHMARKS.glob("*.py"))
    assert len(scripts) > 1, f"no benchmarks found in {BENCHMARKS}"
    offenders = {
        path.name: found
        for path in scripts
        if (found := [m for m in _imported_modules(path) if m == "tests" or m.startswith("tests.")])
    }
    assert offenders == {}, f"benchmarks importing the test tree: {offenders}"
