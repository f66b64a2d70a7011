"""Malformed and hostile uploads: each is refused (4xx) or fails with a reason, the server keeps
serving, and nothing is written outside the data dir."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.catalogue import GOOD, MARK, Case, Target, cases
from tests.reliability.conftest import HostileStack
from tests.reliability.figures import Figure, record
from tests.support.processes import REPO

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__"}


def _listing(root: Path, skip: set[Path]) -> dict[str, float]:
    """Every path under `root` (but `skip`) with its modification time."""
    found: dict[str, float] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) not in skip and d not in SKIPPED_DIRS]
        for name in names + dirs:
            path = Path(folder, name)
            try:
                found[str(path)] = path.lstat().st_mtime
            except OSError:
                continue
    return found


def _marked_paths(roots: list[tuple[Path, int]], data_dir: Path) -> list[str]:
    """Paths outside the data dir whose name carries the catalogue's marker (searched `depth` deep)."""
    hits = []
    for root, depth in roots:
        if not root.is_dir():
            continue
        for folder, dirs, names in os.walk(root):
            level = len(Path(folder).relative_to(root).parts)
            paths = [Path(folder, n) for n in names + dirs if MARK in n]
            hits += [str(p) for p in paths if data_dir not in p.parents]
            dirs[:] = [] if level >= depth else [d for d in dirs if d not in SKIPPED_DIRS]
    return hits


def _as_expected(case: Case, final: dict[str, Any] | None) -> bool:
    """The upload ended as the case allows; a failure must say why; a hostile name became a label."""
    if final is None or final["status"] not in case.outcomes:
        return False
    if final["status"] == "failed" and not (final["error"] and final["error_code"]):
        return False
    return case.stored_name is None or final["name"] == case.stored_name


def test_a_catalogue_of_hostile_inputs_is_refused_or_failed_and_the_server_keeps_serving(
    hostile_stack: HostileStack,
) -> None:
    stack = hostile_stack.stack
    stack.client.create_kb("hostile")
    target = Target(stack.base_url, hostile_stack.api_key, "hostile", hostile_stack.limits)
    outside = _listing(stack.root, {stack.data_dir, stack.logs})
    catalogue = cases()
    answers: dict[str, tuple[Case, int, Any]] = {}
    for case in catalogue:
        response = case.send(target)
        status = 0 if response is None else response.status_code
        answers[case.name] = (case, status, None if response is None or status >= 500 else response.json())

    server_errors = [name for name, (_, status, _) in answers.items() if status >= 500]
    wrong = {name: (status, body) for name, (case, status, body) in answers.items() if status not in case.statuses}
    if not wrong:
        stack.client.wait_settled("hostile", timeout_s=300)
    files = {f["file_id"]: f for f in stack.client.files("hostile")}
    unsettled = {}
    for name, (case, status, body) in answers.items():
        if status == 202 and case.outcomes:
            final = files.get(body["files"][0]["file_id"]) if body else None
            if not _as_expected(case, final):
                unsettled[name] = final
    names = [f["name"] for f in files.values()]

    # The server keeps serving: a plain file still ingests, and the health probe is green.
    normal = stack.client.upload("hostile", [("after-the-catalogue.md", GOOD + b"after")])
    assert normal.status_code == 202, normal.text
    after = stack.client.wait_settled("hostile", timeout_s=180)
    assert next(f for f in after if f["name"] == "after-the-catalogue.md")["status"] == "done"
    assert httpx.get(f"{stack.base_url}/readyz", timeout=30).status_code == 200

    # Nothing was written outside the data dir: not a name from the catalogue anywhere, nothing
    # new or changed beside it (the server processes' TMPDIR, `process-tmp`, is there too).
    now_outside = _listing(stack.root, {stack.data_dir, stack.logs})
    changed = sorted(p for p, t in now_outside.items() if outside.get(p) != t)
    roots = [
        (stack.root.parent, 6),
        (REPO, 8),
        (Path(tempfile.gettempdir()), 2),
        (Path.home(), 1),
        (Path("/"), 0),
        (Path("/etc"), 1),
    ]
    marked = _marked_paths(roots, stack.data_dir)
    marked_inside = [str(p) for p in stack.data_dir.rglob(f"*{MARK}*")]

    record(
        Figure(
            "6. hostile and malformed inputs",
            inputs=len(catalogue),
            server_errors=len(server_errors),
            note=f"{sum(1 for _, s, _ in answers.values() if 400 <= s < 500)} refused with a 4xx, "
            f"{sum(1 for f in files.values() if f['status'] == 'failed')} failed with a reason, "
            f"{sum(1 for f in files.values() if f['status'] == 'done')} ingested (hostile names kept as plain labels)",
        )
    )
    assert len(catalogue) >= 25
    assert server_errors == []
    assert wrong == {}
    assert unsettled == {}
    assert all("/" not in n and "\\" not in n and "\x00" not in n and "\u202e" not in n for n in names), names
    assert changed == []
    assert marked == []
    assert marked_inside == []
    assert list((stack.data_dir / "tmp").glob("upload-*")) == []
