"""Imports point one way (README, Layout): a module that imports against the grain fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.processes import REPO

pytestmark = pytest.mark.unit

# package (or sub-package) -> the first-party packages it must never import
FORBIDDEN = {
    "vectorstore": ("kb_server", "ingestion", "llm", "catalog"),
    "llm": ("kb_server", "ingestion", "vectorstore", "catalog"),
    "catalog": ("kb_server", "ingestion", "vectorstore", "llm"),
    "ingestion": ("kb_server",),
    "kb_server.runtime": ("kb_server.api", "kb_server.services", "kb_server.cli", "kb_server.integrations"),
    "kb_server.services": ("kb_server.api", "kb_server.cli", "kb_server.integrations"),
    "kb_server.api": ("kb_server.cli", "kb_server.integrations"),
    # The API's bodies are shared by routes, services and clients: they depend on none of them.
    "kb_server.schemas": (
        "kb_server.api",
        "kb_server.services",
        "kb_server.cli",
        "kb_server.integrations",
        "kb_server.runtime",
    ),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    folder = REPO.joinpath(*package.split("."))
    wrong = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted(folder.rglob("*.py"))
        for name in sorted(_imports(path))
        if any(_is_within(name, banned) for banned in FORBIDDEN[package])
    ]
    assert not wrong, "\n".join(wrong)


def test_kb_server_has_no_flat_modules_left_but_its_shared_ones() -> None:
    flat = {p.stem for p in (REPO / "kb_server").glob("*.py")}
    assert flat == {"__init__", "__main__", "settings", "errors"}
