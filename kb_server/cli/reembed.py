"""`kb-server kb reembed NAME --preset P [--wait]`: re-embed a knowledge base with another preset.

Without `--wait` it prints the started job and returns; with it, a progress bar of files staged
(plain lines when not on a terminal) until the KB has switched, and exits 1 if the job failed
or was cancelled.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from kb_server.cli.api_client import ApiClient
from kb_server.cli.terminal import display_for

POLL_INTERVAL_S = 1.0


def reembed_kb(
    client: ApiClient,
    name: str,
    preset: str,
    wait: bool,
    as_json: bool,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    job = client.start_reembed(name, preset)
    if wait and job["status"] == "running":
        job = _follow(client, name, job, out, sleep, show=not as_json)
    if as_json:
        out.write(json.dumps(job, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(_summary(name, job) + "\n")
    return 0 if job["status"] in ("running", "done") else 1


def _follow(
    client: ApiClient, name: str, job: dict[str, Any], out: TextIO, sleep: Callable[[float], None], show: bool
) -> dict[str, Any]:
    display = display_for(out)
    if not show:
        while job["status"] == "running":
            sleep(POLL_INTERVAL_S)
            job = client.read_reembed(name)
        return job
    with display.phase(f"re-embedding {name} with {job['preset']}", job["files_total"], "files") as phase:
        while job["status"] == "running":
            phase.update(job["files_done"])
            sleep(POLL_INTERVAL_S)
            job = client.read_reembed(name)
        phase.update(job["files_done"], job["status"])
    return job


def _summary(name: str, job: dict[str, Any]) -> str:
    target = f"{job['preset']} ({job['dim']} dimensions)"
    match job["status"]:
        case "done":
            return f"{name} is now embedded with {target}: {job['files_total']} files re-embedded"
        case "running":
            return (
                f"re-embedding {name} with {target}: {job['files_done']}/{job['files_total']} files; "
                f"search uses {job['from_preset'] or 'its old embedder'} until all are done "
                f"(GET /api/kbs/{name}/reembed shows progress)"
            )
        case status:
            return f"re-embedding {name} with {job['preset']} {status}: {job['error'] or 'no reason given'}"
