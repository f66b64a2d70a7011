"""Several hosts that share no disk: `storage.backend: database` keeps uploads, vector segments and
keyword blocks in PostgreSQL, so two workers and two API processes, each in a working and data dir
of its own, share only the catalog and the broker (Redis, or the machine's RabbitMQ)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from catalog.stored_bytes import DatabaseByteStore
from ingestion.uploads import UploadStore
from tests.reliability.corpus import notes
from tests.reliability.probe import pool_children, tally_chunks
from tests.support.client import KBClient
from tests.support.inspect_data import kb_id_of
from tests.support.postgres import temporary_database
from tests.support.processes import Proc, free_port, share_int8_build, wait_http
from tests.support.stack import Stack
from tests.support.waiting import wait_for
from vectorstore import SegmentStore

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

FILES = 200
BATCH = 50  # files per upload request; the batches are sent side by side


@dataclass
class Hosts:
    stack: Stack
    database_url: str
    second: KBClient  # the API on a host of its own that ingests nothing
    host_dirs: list[Path]
    uploads: UploadStore
    segments: SegmentStore

    @property
    def first(self) -> KBClient:
        return self.stack.client


def _host(root: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A working dir and a data dir of that host's own, and the environment that points there."""
    home = root / name
    data = home / "data"
    data.mkdir(parents=True)
    share_int8_build(data)  # the int8 export is built once per machine; no kb-server data in it
    return home, {"KB_DATA_DIR": str(data), "HOME": str(home), "TMPDIR": str(home)}


@pytest.fixture(scope="module", params=["redis", "amqp"])
def hosts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    root = tmp_path_factory.mktemp(f"hosts-{request.param}")
    with temporary_database() as database_url:
        # The stack's own data dir holds the embedded Redis only (a service, like PostgreSQL).
        stack = Stack(
            root / "services",
            broker=request.param,
            database_url=database_url,
            KB_STORAGE__BACKEND="database",
            KB_WORKER__CONCURRENCY="1",
        )
        second: Proc | None = None
        stores: list[DatabaseByteStore] = []
        try:
            stack.start_redis()
            homes = []
            for name in ("worker-a", "worker-b"):
                home, env = _host(root, name)
                stack.start_worker(cwd=home, **env)
                homes.append(home)
            home, env = _host(root, "api-a")
            stack.start_api(**env)
            homes.append(home)
            stack.wait_ready()
            home, env = _host(root, "api-b")
            port = free_port()
            second = Proc(
                ["api"],
                {**stack.env(), **env, "KB_PORT": str(port), "KB_RECOVERY_ENABLED": "false"},
                stack.logs / "api-b.log",
                cwd=home,
            ).start()
            wait_http(f"http://127.0.0.1:{port}/healthz", proc=second)
            homes.append(home)
            stores = [DatabaseByteStore(database_url, bucket, root / "tmp") for bucket in ("uploads", "kbs")]
            yield Hosts(
                stack,
                database_url,
                KBClient(f"http://127.0.0.1:{port}"),
                homes,
                UploadStore(stores[0], root / "tmp"),
                SegmentStore(stores[1]),
            )
        finally:
            for store in stores:
                store.dispose()
            if second is not None:
                second.stop()
            stack.stop()


def _word(i: int) -> str:
    return "zq" + hashlib.sha256(str(i).encode()).hexdigest()[:8]  # a token only file i has


def _doc(i: int, place: str = "lamp room") -> tuple[str, bytes]:
    text = f"# Shift log {i}\n\nKeeper {i} wrote the code word {_word(i)} in the {place}.\n"
    return f"note-{i:03}.md", text.encode()


def _upload_batch(base_url: str, kb: str, docs: list[tuple[str, bytes]]) -> list[dict]:
    r = httpx.post(f"{base_url}/api/kbs/{kb}/files", files=[("files", d) for d in docs], timeout=120)
    assert r.status_code == 202, r.text
    return list(r.json()["files"])


def _search(client: KBClient, kb: str, query: str, mode: str) -> list[dict]:
    return client.search(kb, query, top_k=1, mode=mode)


def _segment_names(hosts: Hosts, kb_id: int, file_id: int) -> list[str]:
    return hosts.segments.store.names(f"{kb_id}/segments", start=f"{file_id}.")


def test_a_batch_ingested_by_two_workers_is_searched_from_another_api_with_no_shared_disk(hosts: Hosts) -> None:
    kb = hosts.first.create_kb("lighthouse")["name"]
    docs = [_doc(i) for i in range(FILES)]
    started = time.monotonic()
    with ThreadPoolExecutor(FILES // BATCH) as pool:
        batches = [docs[i : i + BATCH] for i in range(0, FILES, BATCH)]
        entries = [e for part in pool.map(lambda b: _upload_batch(hosts.stack.base_url, kb, b), batches) for e in part]
    assert [e["status"] for e in entries] == ["queued"] * FILES
    files = hosts.first.wait_settled(kb, expected=FILES, timeout_s=600)
    print(f"\n{FILES} files ingested by two workers in {time.monotonic() - started:.1f} s ({hosts.stack.broker})")
    assert {f["status"] for f in files} == {"done"}, [(f["name"], f["error"]) for f in files if f["error"]]

    tally = tally_chunks(hosts.stack.data_dir, kb, hosts.database_url, segments=hosts.segments)
    assert (tally.files, tally.consistent, tally.duplicates) == (FILES, FILES, 0), tally
    assert len(hosts.uploads.all_shas()) == FILES
    logs = [w.log_path.read_text() for w in hosts.stack.workers]
    assert all("succeeded" in log for log in logs), "both workers should have taken files"

    # Every file, from the API that ingested nothing: its keyword block and its vectors.
    for i, (name, _) in enumerate(docs):
        [hit] = _search(hosts.second, kb, _word(i), "keyword")
        assert hit["file_name"] == name
        [dense] = _search(hosts.second, kb, hit["text"], "dense")
        assert dense["file_name"] == name
    for home in hosts.host_dirs:  # nothing stored on any host's disk
        data = home / "data"
        stored = [p for folder in ("uploads", "kbs") for p in (data / folder).rglob("*") if p.is_file()]
        assert stored == [], stored
        assert not (data / "kb.sqlite3").exists()


def test_delete_and_reingest_are_seen_by_every_api(hosts: Hosts) -> None:
    kb = hosts.first.create_kb("tidepool")["name"]
    kb_id = kb_id_of(hosts.database_url, kb)
    docs = [_doc(i, "tide pool") for i in range(3)]
    entries = {e["name"]: e for e in _upload_batch(hosts.stack.base_url, kb, docs)}
    hosts.first.wait_settled(kb, expected=3)
    gone, again = entries["note-000.md"], entries["note-001.md"]

    assert hosts.first.http.delete(f"/api/kbs/{kb}/files/{gone['file_id']}").status_code == 204
    word = _word(0)
    assert all(h["file_name"] != "note-000.md" for h in hosts.second.search(kb, word, top_k=3, mode="keyword"))
    assert _segment_names(hosts, kb_id, gone["file_id"]) == []
    assert gone["sha256"] not in hosts.uploads.all_shas()  # no other file has these bytes

    r = hosts.first.http.post(f"/api/kbs/{kb}/files/{again['file_id']}/reingest")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while (names := _segment_names(hosts, kb_id, again["file_id"])) != [f"{kb_id}/segments/{again['file_id']}.2.faiss"]:
        assert time.monotonic() < deadline, names  # run 2 committed, run 1 pruned
        time.sleep(0.3)
    hosts.first.wait_settled(kb, expected=2)
    [hit] = hosts.second.search(kb, _word(1), top_k=1, mode="hybrid")
    assert hit["file_name"] == "note-001.md"

    # The deleted file's bytes uploaded again: stored again, ingested again, found again.
    [entry] = _upload_batch(hosts.stack.base_url, kb, docs[:1])
    assert entry["status"] == "queued"
    hosts.first.wait_settled(kb, expected=3)
    [hit] = hosts.second.search(kb, word, top_k=1, mode="keyword")
    assert hit["file_name"] == "note-000.md"
    tally = tally_chunks(hosts.stack.data_dir, kb, hosts.database_url, segments=hosts.segments)
    assert (tally.files, tally.consistent, tally.duplicates) == (3, 3, 0), tally


def test_a_worker_killed_mid_file_leaves_every_file_done_once_and_no_stray_segment(hosts: Hosts) -> None:
    """Last in the module: it kills one of the stack's two workers."""
    kb = hosts.first.create_kb("killed")["name"]
    kb_id = kb_id_of(hosts.database_url, kb)
    doomed = hosts.stack.workers[0]
    docs = notes(6, f"db-kill-{hosts.stack.broker}", paragraphs=30)
    assert hosts.first.upload(kb, docs).status_code == 202

    def doomed_runs_a_file() -> bool:
        return bool(set(_lease_pids(hosts.database_url).values()) & set(pool_children(doomed.pid)))

    wait_for("the doomed worker running a file", doomed_runs_a_file, timeout_s=300, interval_s=0.02)
    doomed.kill_group()
    files = hosts.first.wait_settled(kb, expected=len(docs), timeout_s=180)
    assert {f["status"] for f in files} == {"done"}, [(f["name"], f["error"]) for f in files]
    assert any(f["attempts"] > 1 for f in files), "the killed worker's file should have run a second time"
    tally = tally_chunks(hosts.stack.data_dir, kb, hosts.database_url, segments=hosts.segments)
    assert (tally.files, tally.consistent, tally.duplicates) == (len(docs), len(docs), 0), tally
    # Only the committed run of each file is stored: the killed run's segment (if it got that far)
    # went with the rerun's prune.
    assert all(len(_segment_names(hosts, kb_id, f["file_id"])) == 1 for f in files)


def _lease_pids(database_url: str) -> dict[int, int]:
    """file id -> pid of the process holding its lease."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, lease_owner FROM files WHERE status = 'processing' AND lease_owner IS NOT NULL")
            ).all()
            return {fid: int(owner.split("/")[1]) for fid, owner in rows}
    finally:
        engine.dispose()
