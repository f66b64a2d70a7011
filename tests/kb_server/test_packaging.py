"""What an installed (non-editable) kb-server carries: every package, its defaults, its UI."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from setuptools import find_namespace_packages

from tests.support.processes import REPO

pytestmark = pytest.mark.unit

FIRST_PARTY = ("kb_server", "catalog", "ingestion", "vectorstore", "llm")
PACKAGE_DATA_DIRS = ("kb_server.static", "catalog.migrations")


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_package_of_the_tree_is_listed_in_pyproject() -> None:
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {
        name
        for name in find_namespace_packages(
            str(REPO), include=["kb_server*", "catalog*", "ingestion*", "vectorstore*", "llm*"]
        )
        if not name.startswith(PACKAGE_DATA_DIRS) and "__pycache__" not in name
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert listed - found == {"kb_server.configs"}


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("kb_server-*.whl")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    return target


def test_the_wheel_ships_defaults_migrations_and_the_ui(installed_wheel: Path) -> None:
    assert (installed_wheel / "kb_server" / "configs" / "default.yaml").read_text() == (
        REPO / "configs" / "default.yaml"
    ).read_text()
    assert (installed_wheel / "kb_server" / "static" / "index.html").is_file()
    assert list((installed_wheel / "catalog" / "migrations" / "versions").glob("0001_*.py"))


def test_an_installed_kb_server_reads_its_packaged_defaults(installed_wheel: Path, tmp_path: Path) -> None:
    probe = (
        "import kb_server, kb_server.settings as s; "
        "print(kb_server.__file__); print(s.PROJECT_CONFIG); print(s.load_settings().chat.score_threshold)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed_wheel), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    module, config, threshold = result.stdout.split()
    assert Path(module).is_relative_to(installed_wheel)
    assert Path(config) == installed_wheel / "kb_server" / "configs" / "default.yaml"
    documented = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    assert float(threshold) == documented["chat"]["score_threshold"]
