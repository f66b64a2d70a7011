"""Operating kb-server: Prometheus metrics, structured logs, PostgreSQL and workers on other hosts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingestion.log_context import IngestionContextFilter, ingestion_context
from kb_server.runtime.logging_setup import JsonFormatter
from tests.support.client import KBClient
from tests.support.postgres import temporary_database
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _metrics(client: KBClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_parse_and_move_as_files_are_ingested(client: KBClient, kb: str) -> None:
    before = _metrics(client)
    client.upload(kb, [("metrics.md", b"# Metrics\n\nCounters must move when a file is ingested.\n")])
    client.wait_settled(kb, expected=1)
    client.http.post("/api/chat", json={"kb": kb, "question": "What is the airspeed of a swallow?"})
    after = _metrics(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("kb_files", status="done") == 1
    assert delta("kb_files_ingested_total", outcome="done") == 1
    for stage in ("parsing", "chunking", "embedding", "indexing"):
        assert delta("kb_ingest_stage_seconds_count", stage=stage) == 1, stage
    assert after[("kb_chunks", (("kb", kb),))] >= 1
    assert ("kb_queue_depth", ()) in after
    assert delta("kb_chat_requests_total", outcome="refused") == 1
    routes = {dict(labels).get("route") for (name, labels) in after if name == "kb_http_request_duration_seconds_count"}
    assert {"/api/kbs/{kb}/files", "/api/chat"} <= routes


def test_worker_log_lines_carry_task_and_file_ids(client: KBClient, kb: str, stack: Stack) -> None:
    [entry] = client.upload(kb, [("logged.txt", b"Every ingestion log line names its task and file.\n")]).json()[
        "files"
    ]
    client.wait_settled(kb, expected=1)
    lines = [
        line for line in stack.workers[0].log_path.read_text().splitlines() if f"file_id={entry['file_id']}" in line
    ]
    assert any(f"task_id={entry['task_id']}" in line for line in lines)
    assert any("done" in line for line in lines)


def test_json_log_lines_are_objects_with_the_ids() -> None:
    record = logging.LogRecord("ingestion.pipeline", logging.INFO, __file__, 1, "parsed %s elements", (12,), None)
    with ingestion_context("task-123", 42):
        IngestionContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "parsed 12 elements"
    assert (line["task_id"], line["file_id"], line["level"]) == ("task-123", 42, "INFO")


@pytest.mark.slow
def test_api_and_two_workers_on_other_hosts_share_postgresql_redis_and_the_data_dir(tmp_path: Path) -> None:
    """Each worker runs from its own working directory with its own environment (as on another
    host); they share only the services: Redis, PostgreSQL and the data dir."""
    with temporary_database() as database_url:
        stack = Stack(tmp_path, KB_DATABASE_URL=database_url)
        try:
            stack.start_redis()
            for host in ("host-a", "host-b"):
                home = tmp_path / host
                home.mkdir()
                stack.start_worker(cwd=home, HOME=str(home), TMPDIR=str(home))
            stack.start_api()
            stack.wait_ready()
            client = stack.client
            client.create_kb("shared")
            docs = [
                (f"host-{i}.md", f"# Document {i}\n\nFact number {i * 31} lives in document {i}.\n".encode())
                for i in range(12)
            ]
            client.upload("shared", docs)
            files = client.wait_settled("shared", expected=12)
            assert {f["status"] for f in files} == {"done"}
            for i in (0, 5, 11):
                assert client.search("shared", f"fact number {i * 31}", top_k=1)[0]["file_name"] == f"host-{i}.md"
            logs = [w.log_path.read_text() for w in stack.workers]
            assert all("succeeded" in log for log in logs), "both workers should have taken files"
            assert not (stack.data_dir / "kb.sqlite3").exists()  # the catalog is in PostgreSQL
            r = httpx.get(f"{stack.base_url}/api/kbs/shared", timeout=10).json()
            assert r["files"] == 12
        finally:
            stack.stop()
