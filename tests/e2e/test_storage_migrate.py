"""`kb-server storage migrate` between a data dir and the PostgreSQL catalog, and `kb-server doctor` on
database storage: a KB ingested on local storage is searched alike after moving its bytes into the
database, and after moving them back into a fresh data dir; doctor finds and repairs damage there."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from catalog.stored_bytes import DatabaseByteStore
from ingestion.settings import StorageBackend
from kb_server.cli.doctor import run_doctor
from kb_server.cli.main import build_parser
from kb_server.cli.storage_migrate import migrate_storage, storage_migrate_main
from kb_server.settings import Settings, load_settings
from tests.support.client import KBClient
from tests.support.inspect_data import kb_id_of
from tests.support.postgres import temporary_database
from tests.support.processes import REPO, Proc, base_env, free_port, wait_http
from tests.support.stack import Stack
from vectorstore import SegmentStore

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

KB = "harbour"
DOCS = [
    ("tides.md", b"# Tides\n\nThe harbour master posts the tide table for zqtide at the pier every morning.\n"),
    ("nets.md", b"# Nets\n\nFishing nets are mended in the loft above the zqnets boat shed.\n"),
    ("lamp.md", b"# Lamp\n\nThe lighthouse lamp zqlamp is cleaned each Sunday before dusk.\n"),
]
QUERIES = [("zqtide", "keyword"), ("where are the nets mended", "dense"), ("lighthouse lamp cleaning", "hybrid")]


@dataclass
class Migrated:
    stack: Stack  # its API and worker stopped after ingesting; its Redis still runs
    database_url: str
    root: Path
    baseline: dict[tuple[str, str], list[tuple[str, int, float]]]
    kb_id: int


def _results(client: KBClient) -> dict[tuple[str, str], list[tuple[str, int, float]]]:
    found = {}
    for query, mode in QUERIES:
        hits = client.search(KB, query, top_k=3, mode=mode, rerank=False)
        found[(query, mode)] = [(h["file_name"], h["chunk_id"], round(h["score"], 5)) for h in hits]
    return found


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`kb-server *args` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "kb_server", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migrated]:
    """Three files ingested on local storage (catalog in PostgreSQL), then every process but Redis stopped."""
    root = tmp_path_factory.mktemp("storage-migrate")
    with temporary_database() as database_url:
        stack = Stack(root / "local", database_url=database_url, KB_WORKER__CONCURRENCY="1")
        try:
            stack.start()
            stack.client.create_kb(KB)
            assert stack.client.upload(KB, DOCS).status_code == 202
            files = stack.client.wait_settled(KB, expected=len(DOCS), timeout_s=120)
            assert {f["status"] for f in files} == {"done"}, files
            baseline = _results(stack.client)
            assert all(baseline.values()), baseline
            assert stack.api is not None
            stack.api.stop()
            for worker in stack.workers:
                worker.stop()
            yield Migrated(stack, database_url, root, baseline, kb_id_of(database_url, KB))
        finally:
            stack.stop()


def _settings(m: Migrated, data_dir: Path, backend: StorageBackend, *, broker: bool = True) -> Settings:
    settings = load_settings(None, data_dir=data_dir)
    settings.database_url = m.database_url
    settings.storage.backend = backend
    settings.redis_url = m.stack.redis.url if broker else None
    return settings


def _env(m: Migrated, data_dir: Path, backend: str) -> dict[str, str]:
    return base_env(
        data_dir,
        m.stack.redis.url,
        KB_DATABASE_URL=m.database_url,
        KB_STORAGE__BACKEND=backend,
        KB_RECOVERY_ENABLED="false",
    )


def _api_results(m: Migrated, data_dir: Path, backend: str) -> dict[tuple[str, str], list[tuple[str, int, float]]]:
    port = free_port()
    env = {**_env(m, data_dir, backend), "KB_PORT": str(port)}
    api = Proc(["api"], env, m.root / f"api-{backend}-{port}.log").start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=api)
        client = KBClient(f"http://127.0.0.1:{port}")
        try:
            return _results(client)
        finally:
            client.close()
    finally:
        api.stop()


def _stored_files(data_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(data_dir)): p.read_bytes()
        for folder in ("uploads", "kbs")
        for p in (data_dir / folder).rglob("*")
        if p.is_file()
    }


def test_a_data_dir_moved_into_the_database_and_back_is_searched_alike(migrated: Migrated) -> None:
    m = migrated
    original = _stored_files(m.stack.data_dir)
    assert len(original) == 3 * len(DOCS)  # an upload, a segment and a keyword block per file

    started = time.monotonic()
    to_db = _cli(_env(m, m.stack.data_dir, "local"), "storage", "migrate", "--to", "database")
    assert to_db.returncode == 0, to_db.stdout + to_db.stderr
    assert f"copied {len(original)} objects" in to_db.stdout, to_db.stdout
    assert "nothing was deleted" in to_db.stdout
    assert _stored_files(m.stack.data_dir) == original  # the source is left as it was

    out = io.StringIO()
    again = migrate_storage(_settings(m, m.stack.data_dir, "local"), "database", out)
    assert (again.copied, again.skipped) == (0, len(original)), out.getvalue()
    assert f"copied 0 objects (0 B), skipped {len(original)} already there" in out.getvalue()

    # An API on a host with an empty data dir of its own: the bytes come from PostgreSQL.
    db_host = m.root / "db-host" / "data"
    assert _api_results(m, db_host, "database") == m.baseline
    assert _stored_files(db_host) == {}
    doctor = _cli(_env(m, db_host, "database"), "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert '"consistent": true' in doctor.stdout

    back_dir = m.root / "back" / "data"
    to_local = _cli(_env(m, back_dir, "database"), "storage", "migrate", "--to", "local")
    assert to_local.returncode == 0, to_local.stdout + to_local.stderr
    assert f"copied {len(original)} objects" in to_local.stdout, to_local.stdout
    assert _stored_files(back_dir) == original
    assert _api_results(m, back_dir, "local") == m.baseline
    assert run_doctor(_settings(m, back_dir, "local")).findings == []
    print(f"\nmigrated there and back, searched and checked in {time.monotonic() - started:.1f} s")


def test_migrate_refuses_a_catalog_that_is_not_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert storage_migrate_main(load_settings(None, data_dir=tmp_path / "data"), "database") == 2
    assert "PostgreSQL" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # nothing was copied, nor created
    with pytest.raises(SystemExit):
        build_parser().parse_args(["storage", "migrate", "--help"])
    assert "never deletes the source's objects" in " ".join(capsys.readouterr().out.split())


def test_doctor_on_database_storage_finds_and_repairs_a_missing_segment_and_orphans(
    migrated: Migrated, tmp_path: Path
) -> None:
    m = migrated
    migrate_storage(_settings(m, m.stack.data_dir, "local"), "database", io.StringIO())  # if run alone
    settings = _settings(m, tmp_path / "data", "database", broker=False)
    kbs = DatabaseByteStore(m.database_url, "kbs", tmp_path / "tmp")
    uploads = DatabaseByteStore(m.database_url, "uploads", tmp_path / "tmp")
    try:
        segments = SegmentStore(kbs)
        [victim, *_] = segments.file_ids(m.kb_id)
        [name] = kbs.names(f"{m.kb_id}/segments", start=f"{victim}.")
        orphan = f"{m.kb_id}/segments/999.1.faiss"
        kbs.write(orphan, [kbs.read(name) or b""])
        kbs.delete(name)
        stray = "ab/ab" + "0" * 62
        uploads.write(stray, [b"nobody's bytes"])
        _age(m.database_url, stray)
        kbs.write(f"{m.kb_id}/notes.txt", [b"not ours"])

        found = run_doctor(settings)
        checks = sorted(f.check for f in found.findings)
        assert checks == ["orphan_segment", "orphan_upload", "segment", "stray_object"], found.as_dict()
        assert any(f"stored object kbs/{orphan}" in f.detail for f in found.findings), found.as_dict()
        cli = _cli(_env(m, tmp_path / "data", "database"), "doctor", "--repair", "--json")
        assert cli.returncode == 0, cli.stdout + cli.stderr
        repaired = json.loads(cli.stdout)
        assert repaired["consistent"], repaired
        outcomes = sorted(str(f["repaired"]) for f in repaired["findings"])
        assert outcomes[:3] == ["deleted"] * 3, outcomes
        assert outcomes[3] == "queued for re-ingestion; sent to the worker", outcomes
        assert not kbs.exists(orphan)
        assert not kbs.exists(f"{m.kb_id}/notes.txt")
        assert not uploads.exists(stray)
        assert run_doctor(settings).findings == []  # the file is queued: nothing to hold it against yet
    finally:
        kbs.dispose()
        uploads.dispose()


def _age(database_url: str, name: str) -> None:
    """Make a stored upload an hour old, past the doctor's grace for bytes being registered."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE stored_objects SET created_at = now() - interval '1 hour' WHERE name = :n"), {"n": name}
            )
    finally:
        engine.dispose()
