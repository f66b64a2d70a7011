"""Two API processes on one data dir: a delete never takes the bytes an upload in the other just registered.

Stored bytes are shared by every file with the same sha256, in any knowledge base. Deleting the
last file that refers to them deletes them; an upload of the same bytes at that moment, in another
process, must either keep them (registered first) or put them back (registered after).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from catalog.stored_bytes import DatabaseByteStore
from ingestion.uploads import UploadStore
from tests.support.postgres import temporary_database
from tests.support.processes import REPO, Proc, free_port, wait_http
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CHURN_S = 25
RUNNERS = 3
KEEP_EVERY = 10  # rounds whose second file stays registered, for the final check
KBS = ("gc-one", "gc-two")


@dataclass
class TwoApis:
    stack: Stack
    urls: tuple[str, str]
    env: dict[str, str]
    uploads: UploadStore  # where the APIs store the bytes
    extra: list[Proc] = field(default_factory=list)


@pytest.fixture(params=["sqlite", "postgresql", "database-storage"])
def two_apis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TwoApis]:
    """Redis and two API processes sharing one data dir and one catalog; no worker. With
    database-storage the bytes are in PostgreSQL (storage.backend: database)."""
    on_postgresql = request.param != "sqlite"
    with temporary_database() if on_postgresql else contextlib.nullcontext(None) as database_url:
        in_database = request.param == "database-storage"
        backend = "database" if in_database else "local"
        stack = Stack(tmp_path / "stack", database_url=database_url, KB_STORAGE__BACKEND=backend)
        second: Proc | None = None
        blobs = DatabaseByteStore(str(database_url), "uploads", tmp_path / "tmp") if in_database else None
        uploads = UploadStore(blobs or stack.data_dir / "uploads", tmp_path / "tmp")
        try:
            stack.start_redis()
            stack.start_api()
            port = free_port()
            second = Proc(
                ["api"], {**stack.env(), "KB_PORT": str(port), "KB_RECOVERY_ENABLED": "false"}, stack.logs / "api2.log"
            ).start()
            wait_http(f"http://127.0.0.1:{port}/healthz", proc=second)
            yield TwoApis(stack, (stack.base_url, f"http://127.0.0.1:{port}"), stack.env(), uploads)
        finally:
            if blobs is not None:
                blobs.dispose()
            if second is not None:
                second.stop()
            stack.stop()


def _upload(client: httpx.Client, kb: str, name: str, data: bytes) -> dict[str, object]:
    r = client.post(f"/api/kbs/{kb}/files", files=[("files", (name, data))])
    assert r.status_code == 202, r.text
    return dict(r.json()["files"][0])


def test_uploads_and_deletes_of_the_same_bytes_across_two_processes_never_lose_them(two_apis: TwoApis) -> None:
    urls = two_apis.urls
    for kb in KBS:
        assert httpx.post(f"{urls[0]}/api/kbs", json={"name": kb}, timeout=30).status_code == 201
    deadline = time.monotonic() + CHURN_S
    lost: list[str] = []
    errors: list[BaseException] = []
    rounds = [0] * RUNNERS

    def runner(n: int) -> None:
        rng = random.Random(n)
        clients = [httpx.Client(base_url=u, timeout=60) for u in urls]
        deleters = [httpx.Client(base_url=u, timeout=60) for u in urls]

        def delete(api: int, file_id: object, pause: float) -> int:
            time.sleep(pause)
            return deleters[api].delete(f"/api/kbs/{KBS[0]}/files/{file_id}").status_code

        with ThreadPoolExecutor(1) as side:
            try:
                while time.monotonic() < deadline:
                    r = rounds[n]
                    rounds[n] += 1
                    data = f"# Round {n}-{r}\n\nA note that exists once: {uuid.uuid4().hex}.\n".encode()
                    sha = hashlib.sha256(data).hexdigest()
                    up, down = (0, 1) if r % 2 == 0 else (1, 0)
                    first = _upload(clients[up], KBS[0], "note.md", data)
                    # The last file with these bytes is deleted in one process while the other
                    # registers them in another knowledge base.
                    deleted = side.submit(delete, down, first["file_id"], rng.uniform(0, 0.02))
                    second = _upload(clients[up], KBS[1], "note.md", data)
                    assert deleted.result() == 204
                    assert second["status"] == "queued", second
                    if not two_apis.uploads.exists(sha):
                        lost.append(f"round {n}-{r}: file {second['file_id']} registered, its bytes deleted")
                    if r % KEEP_EVERY:
                        assert clients[down].delete(f"/api/kbs/{KBS[1]}/files/{second['file_id']}").status_code == 204
            except BaseException as exc:
                errors.append(exc)
            finally:
                for client in clients + deleters:
                    client.close()

    threads = [threading.Thread(target=runner, args=(n,), name=f"gc-runner-{n}") for n in range(RUNNERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=CHURN_S + 120)
    assert errors == []
    assert sum(rounds) > 50, f"only {sum(rounds)} rounds ran"
    assert lost == [], f"{len(lost)} of {sum(rounds)} rounds lost their bytes: {lost[:5]}"

    registered = [f for kb in KBS for f in httpx.get(f"{urls[1]}/api/kbs/{kb}/files", timeout=60).json()["files"]]
    assert len(registered) >= sum(rounds) // KEEP_EVERY
    missing = [f["file_id"] for f in registered if not two_apis.uploads.exists(f["sha256"])]
    assert missing == []
    assert set(two_apis.uploads.all_shas()) == {f["sha256"] for f in registered}  # and nothing more is kept
    doctor = subprocess.run(
        [sys.executable, "-m", "kb_server", "doctor", "--json"],
        env=two_apis.env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0, report["findings"]
    assert report["consistent"], report["findings"]
