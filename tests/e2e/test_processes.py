"""Process-level behaviour: restarts, several workers, and `kb-server up` as a user runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kb_server.runtime.redis_server import EmbeddedRedis
from tests.support.client import KBClient
from tests.support.inspect_data import chunk_report
from tests.support.processes import REPO, Proc, base_env, descendants, free_port, pid_alive, wait_http
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _texts(n: int, topic: str) -> list[tuple[str, bytes]]:
    return [
        (
            f"{topic}-{i}.md",
            f"# Note {i} about {topic}\n\nThis is note number {i} on {topic}. "
            f"It records fact {i * 7919} about {topic}, written for test {i}.\n".encode(),
        )
        for i in range(n)
    ]


def test_status_survives_a_restart_of_the_api_and_the_worker(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    try:
        stack.start()
        stack.client.create_kb("kept")
        entries = stack.client.upload("kept", _texts(3, "restart")).json()["files"]
        before = stack.client.wait_settled("kept", expected=3)
        assert stack.api is not None
        stack.api.stop()
        stack.workers[0].stop()
        stack.redis.stop()
        stack.redis.start()
        stack.start_worker()
        stack.start_api()
        stack.wait_ready()
        after = KBClient(stack.base_url).files("kept")
        assert [(f["file_id"], f["status"], f["chunks"]) for f in after] == [
            (f["file_id"], f["status"], f["chunks"]) for f in before
        ]
        task = httpx.get(f"{stack.base_url}/api/tasks/{entries[0]['task_id']}").json()
        assert task["state"] == "SUCCESS"
        assert stack.client.search("kept", "fact about restart note 2")[0]["file_name"].startswith("restart-")
    finally:
        stack.stop()


def test_two_worker_processes_ingesting_into_one_kb_lose_nothing(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    try:
        stack.start()
        stack.start_worker()  # a second, separate worker process
        stack.client.create_kb("shared")
        docs = _texts(20, "parallel")
        entries = stack.client.upload("shared", docs).json()["files"]
        assert [e["status"] for e in entries] == ["queued"] * 20
        files = stack.client.wait_settled("shared", expected=20)
        assert {f["status"] for f in files} == {"done"}
        report = chunk_report(stack.data_dir, "shared")
        assert all(c["chunks"] == c["rows"] == c["vectors"] >= 1 for c in report.values()), report
        for i in (0, 7, 19):
            hits = stack.client.search("shared", f"note number {i} on parallel fact {i * 7919}", top_k=3)
            assert hits[0]["file_name"] == f"parallel-{i}.md"
        logs = [w.log_path.read_text() for w in stack.workers]
        assert all("succeeded" in log for log in logs), "both workers should have taken files"
    finally:
        stack.stop()


def _start_up(data_dir: Path, port: int, log: Path) -> Proc:
    env = base_env(data_dir)
    return Proc(["up", "--port", str(port), "--data-dir", str(data_dir)], env, log).start()


def test_two_servers_run_side_by_side_and_stop_cleanly(tmp_path: Path) -> None:
    servers = []
    try:
        for name in ("one", "two"):
            port = free_port()
            proc = _start_up(tmp_path / name, port, tmp_path / f"{name}.log")
            servers.append((proc, port, tmp_path / name))
        for proc, port, _ in servers:
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout_s=120, proc=proc)
        for i, (_, port, _) in enumerate(servers):
            client = KBClient(f"http://127.0.0.1:{port}")
            client.create_kb("own")
            client.upload("own", [(f"server{i}.txt", f"This text belongs only to server number {i}.".encode())])
            assert client.wait_settled("own", expected=1)[0]["status"] == "done"
            assert client.files("own")[0]["name"] == f"server{i}.txt"
            client.close()
        for proc, _, data_dir in servers:
            assert (data_dir / "redis" / "appendonly.aof").exists() or (data_dir / "redis" / "appendonlydir").exists()
            children = descendants(proc.pid)
            assert len(children) >= 3  # redis, worker (+ its pool), api
            proc.signal(signal.SIGTERM)
            assert proc.process is not None
            assert proc.process.wait(timeout=60) == 0
            time.sleep(0.5)
            assert [pid for pid in children if pid_alive(pid)] == []
    finally:
        for proc, _, _ in servers:
            proc.stop()


def test_a_killed_supervisor_leaves_no_orphans(tmp_path: Path) -> None:
    port = free_port()
    proc = _start_up(tmp_path / "data", port, tmp_path / "up.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout_s=120, proc=proc)
        children = descendants(proc.pid)
        assert children
        proc.signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(pid_alive(p) for p in children):
            time.sleep(0.2)
        assert [p for p in children if pid_alive(p)] == []
    finally:
        proc.stop()


def test_api_and_worker_alone_need_a_broker(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data")
    for part in ("api", "worker"):
        done = subprocess.run(
            [sys.executable, "-m", "kb_server", part], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2
        assert "no broker: set KB_BROKER_URL (RabbitMQ) or KB_REDIS_URL" in done.stderr


def test_worker_joins_a_running_up_through_its_data_dir(tmp_path: Path) -> None:
    """`kb-server worker --data-dir D` finds the embedded Redis of a running `kb-server up`."""
    redis = EmbeddedRedis(tmp_path / "data" / "redis")
    redis.start()
    try:
        env = base_env(tmp_path / "data")
        worker = Proc(["worker"], env, tmp_path / "worker.log").start()
        try:
            deadline = time.monotonic() + 60
            while "ready." not in worker.tail(200) and time.monotonic() < deadline:
                assert worker.alive(), worker.tail()
                time.sleep(0.3)
            assert "ready." in worker.tail(200)
            assert redis.url.replace("redis+socket://", "") in worker.tail(200)
        finally:
            worker.stop()
    finally:
        redis.stop()
