"""Every route of the OpenAPI schema behind the API key, and schemathesis against the live API: no 5xx."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from kb_server.api.app import create_app
from kb_server.settings import load_settings
from tests.reliability.conftest import HostileStack
from tests.reliability.figures import Figure, record

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

OPEN = {"/healthz", "/readyz"}
METHODS = ("get", "post", "put", "patch", "delete")


def _operations() -> list[tuple[str, str, str]]:
    """(method, path template, concrete path) of every operation in the app's own schema."""
    schema = create_app(load_settings(None)).openapi()
    found = []
    for template, item in schema["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            params = {
                p["name"]: p["schema"].get("type") for p in item[method].get("parameters", []) if p["in"] == "path"
            }
            path = template
            for name, kind in params.items():  # dummy values that name nothing that exists
                path = path.replace("{" + name + "}", "1" if kind == "integer" else "no-such-thing")
            found.append((method.upper(), template, path))
    return found


def _call(base_url: str, method: str, path: str, headers: dict[str, str]) -> int:
    body: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return httpx.request(method, f"{base_url}{path}", headers=headers, timeout=120, **body).status_code


def test_every_route_but_the_health_probes_needs_the_api_key(hostile_stack: HostileStack) -> None:
    base, key = hostile_stack.stack.base_url, hostile_stack.api_key
    operations = _operations()
    served = httpx.get(f"{base}/openapi.json", headers={"X-API-Key": key}, timeout=30).json()
    assert {p for _, p, _ in operations} == set(served["paths"])
    results = {}
    for method, template, path in operations:
        results[(method, template)] = {
            "none": _call(base, method, path, {}),
            "wrong": _call(base, method, path, {"X-API-Key": "wrong-key"}),
            "header": _call(base, method, path, {"X-API-Key": key}),
            "bearer": _call(base, method, path, {"Authorization": f"Bearer {key}"}),
        }
    docs = {p: httpx.get(f"{base}{p}", timeout=30).status_code for p in ("/openapi.json", "/docs", "/redoc")}
    server_errors = [(op, r) for op, r in results.items() if any(code >= 500 for code in r.values())]
    guarded = [op for op in results if op[1] not in OPEN]
    record(
        Figure(
            "7. API key on every route of the schema",
            inputs=4 * len(results),
            server_errors=len(server_errors),
            note=f"{len(guarded)} guarded operations answer 401 without or with a wrong key, "
            f"and work with X-API-Key or Bearer; {len(results) - len(guarded)} health probes stay open",
        )
    )
    assert len(guarded) >= 15
    for op in guarded:
        assert results[op]["none"] == 401, (op, results[op])
        assert results[op]["wrong"] == 401, (op, results[op])
        assert results[op]["header"] != 401, (op, results[op])
        assert results[op]["bearer"] != 401, (op, results[op])
    for op, r in results.items():
        if op[1] in OPEN:
            assert set(r.values()) <= {200, 503}, (op, r)
    assert server_errors == []
    assert docs == {"/openapi.json": 401, "/docs": 401, "/redoc": 401}


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(hostile_stack: HostileStack, tmp_path: Path) -> None:
    base, key = hostile_stack.stack.base_url, hostile_stack.api_key
    report = tmp_path / "schemathesis.json"
    run = subprocess.run(
        [
            *(sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json"),
            *("--header", f"X-API-Key: {key}"),
            *("--checks", "not_a_server_error"),
            *("--phases", "examples,coverage,fuzzing"),
            *("--max-examples", "5", "--seed", "20261122", "--workers", "1", "--no-shrink"),
            *("--request-timeout", "60", "--max-time", "60"),
            *("--report", "json", "--report-json-path", str(report)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # its caches (.hypothesis, .schemathesis) go there, not into the checkout
    )
    summary = json.loads(report.read_text()) if report.exists() else {}
    Path(tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)
    record(
        Figure(
            "8. schemathesis against the live OpenAPI schema",
            inputs=_count(summary, "requests"),
            server_errors=_count(summary, "server_errors"),
            note=f"exit {run.returncode}; {_count(summary, 'operations')} operations",
        )
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def _count(summary: dict[str, Any], what: str) -> int | None:
    """Figures of schemathesis's JSON report (only `not_a_server_error` is checked, so every failure is a 5xx)."""
    if not summary:
        return None
    return {
        "requests": summary["test_cases"]["generated"],
        "server_errors": summary["test_cases"]["with_failures"],
        "operations": summary["operations"]["tested"],
    }[what]
