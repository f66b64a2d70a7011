"""`kb-server up` as a user runs it, killed whole at random moments of ingestion, and its Redis
killed underneath it."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from ingestion.broker import redis_client
from kb_server.runtime.redis_server import discover_url
from tests.reliability.conftest import STALE_QUEUED_S
from tests.reliability.corpus import notes
from tests.reliability.figures import Figure, record, record_batch
from tests.reliability.probe import doctor_cli, file_states, tally_chunks
from tests.support.client import KBClient
from tests.support.processes import Proc, base_env, descendants, free_port, wait_http
from tests.support.waiting import kill_9, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

KILLS = 3
FILES = 20
KB = "survivor"


@dataclass
class UpRun:
    data_dir: Path
    base_url: str
    proc: Proc
    moments: list[str]
    seed: int
    files: list[dict[str, Any]]


def _start_up(data_dir: Path, port: int, log: Path) -> Proc:
    env = base_env(data_dir, KB_INGESTION__STALE_QUEUED_S=STALE_QUEUED_S)
    return Proc(["up", "--port", str(port), "--data-dir", str(data_dir)], env, log).start()


def _kill_whole(proc: Proc) -> None:
    """SIGKILL the supervisor alone; its children go through their parent-death signal."""
    assert proc.process is not None
    kill_9(proc.process, descendants(proc.pid), timeout_s=120)


def _processing(data_dir: Path) -> bool:
    return any(s.status == "processing" for s in file_states(data_dir, KB))


@pytest.fixture(scope="module")
def killed_repeatedly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpRun]:
    """Upload a batch to a running `up`, then SIGKILL the supervisor at a random moment of the
    ingestion `KILLS` times, restarting it each time; yields the last one, left running."""
    root = tmp_path_factory.mktemp("up-kills")
    data_dir, port, seed = root / "data", free_port(), random.randrange(1 << 30)
    rng = random.Random(seed)
    base_url = f"http://127.0.0.1:{port}"
    procs = [_start_up(data_dir, port, root / "up-0.log")]
    try:
        wait_http(f"{base_url}/healthz", timeout_s=180, proc=procs[-1])
        client = KBClient(base_url)
        client.create_kb(KB)
        response = client.upload(KB, notes(FILES, "survivor", paragraphs=3))
        assert response.status_code == 202, response.text
        client.close()
        moments = []
        for i in range(KILLS):
            wait_for("a file being ingested", lambda: _processing(data_dir), timeout_s=240, interval_s=0.1)
            time.sleep(rng.uniform(0.0, 3.0))
            states = file_states(data_dir, KB)
            stages = sorted({str(s.stage) for s in states if s.status == "processing"})
            moments.append(f"{sum(s.status == 'done' for s in states)} done, {'/'.join(stages) or 'between files'}")
            _kill_whole(procs[-1])
            procs.append(_start_up(data_dir, port, root / f"up-{i + 1}.log"))
        wait_http(f"{base_url}/healthz", timeout_s=180, proc=procs[-1])
        client = KBClient(base_url)
        files = client.wait_settled(KB, expected=FILES, timeout_s=420)
        client.close()
        yield UpRun(data_dir, base_url, procs[-1], moments, seed, files)
    finally:
        for proc in procs:
            proc.stop()


def test_kill_9_of_the_whole_up_repeatedly_loses_and_doubles_nothing(killed_repeatedly: UpRun) -> None:
    run = killed_repeatedly
    tally = tally_chunks(run.data_dir, KB)
    doctor = doctor_cli(run.data_dir, "--json", timeout_s=180)
    name = f"5. kb-server up SIGKILLed {KILLS}x at random moments, {FILES} files"
    note = f"seed {run.seed}; killed at: {'; '.join(run.moments)}; doctor exit {doctor.returncode}"
    done = record_batch(name, FILES, run.files, tally, note)
    assert len(done) == FILES, [(f["name"], f["status"], f["error"]) for f in run.files]
    assert tally.duplicates == 0
    assert not tally.problems, tally.problems
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert json.loads(doctor.stdout)["findings"] == []


def _redis_servers(supervisor: int) -> list[int]:
    found = []
    for child in psutil.Process(supervisor).children():
        try:
            if "redis-server" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.Error:  # gone meanwhile
            continue
    return found


def test_up_restarts_its_redis_when_it_is_killed_and_goes_on_ingesting(killed_repeatedly: UpRun) -> None:
    run = killed_repeatedly
    assert run.proc.alive()
    redis = _redis_servers(run.proc.pid)
    assert len(redis) == 1, redis
    os.kill(redis[0], signal.SIGKILL)

    def restarted() -> bool:
        again = _redis_servers(run.proc.pid)
        url = discover_url(run.data_dir / "redis")
        if again in ([], redis) or url is None:
            return False
        try:
            return bool(redis_client(url, timeout_s=1.0).ping())
        except Exception:
            return False

    wait_for("a new embedded redis", restarted, timeout_s=60, interval_s=0.2)
    client = KBClient(run.base_url)
    try:
        response = client.upload(KB, notes(1, "after-redis-restart", paragraphs=2))
        assert response.status_code == 202, response.text
        files = client.wait_settled(KB, expected=FILES + 1, timeout_s=240)
    finally:
        client.close()
    late = next(f for f in files if f["name"].startswith("after-redis-restart"))
    record(
        Figure(
            "kb-server up with its redis-server SIGKILLed: restarted, a new upload ingests",
            submitted=1,
            ingested=int(late["status"] == "done"),
            lost=int(late["status"] != "done"),
        )
    )
    assert late["status"] == "done", late
    assert run.proc.alive()
