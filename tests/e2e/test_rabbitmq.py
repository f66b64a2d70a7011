"""RabbitMQ as the broker, with no Redis anywhere: the machine's RabbitMQ (KB_TEST_AMQP_URL), one
queue per stack so that other users of that RabbitMQ are left alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingestion.broker import queue_depth
from tests.reliability.probe import tally_chunks
from tests.support.postgres import temporary_database
from tests.support.processes import Proc, descendants, wait_http
from tests.support.rabbitmq import AMQP_URL
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STAGES = ("parsing", "chunking", "embedding", "indexing")


def _docs(n: int) -> list[tuple[str, bytes]]:
    return [
        (
            f"rabbit-{i}.md",
            f"# Burrow {i}\n\nWarren number {i} keeps fact {i * 4099} about carrots, for file {i}.\n".encode(),
        )
        for i in range(n)
    ]


def _samples(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_batch_through_rabbitmq_and_postgresql_is_ingested_searched_and_measured(tmp_path: Path) -> None:
    with temporary_database() as database_url:
        stack = Stack(tmp_path, broker="amqp", database_url=database_url)
        try:
            stack.start()
            ready = httpx.get(f"{stack.base_url}/readyz", timeout=10).json()
            assert ready["checks"] == {"broker": True, "worker": True, "model": True}, ready
            client = stack.client
            client.create_kb("warren")
            docs = _docs(6)

            # One request per file, all at once: the API's threads publish to RabbitMQ side by side.
            def upload(doc: tuple[str, bytes]) -> int:
                return httpx.post(
                    f"{stack.base_url}/api/kbs/warren/files", files=[("files", doc)], timeout=60
                ).status_code

            with ThreadPoolExecutor(len(docs)) as pool:
                assert list(pool.map(upload, docs)) == [202] * len(docs)
            files = client.wait_settled("warren", expected=len(docs))
            assert {f["status"] for f in files} == {"done"}, [(f["name"], f["error"]) for f in files]
            tally = tally_chunks(stack.data_dir, "warren", database_url)
            assert (tally.files, tally.consistent, tally.duplicates) == (6, 6, 0), tally
            for i in (0, 3, 5):
                assert client.search("warren", f"fact {i * 4099} about carrots", top_k=1)[0]["file_name"] == (
                    f"rabbit-{i}.md"
                )
            samples = _samples(stack.base_url)
            for stage in STAGES:
                assert samples[("kb_ingest_stage_seconds_count", (("stage", stage),))] == 6, stage
            assert samples[("kb_files_ingested_total", (("outcome", "done"),))] == 6
            assert samples[("kb_queue_depth", ())] == 0
            assert queue_depth(AMQP_URL, stack.queue_name) == 0
            assert not (stack.data_dir / "redis").exists() or not any((stack.data_dir / "redis").iterdir())
            assert not (stack.data_dir / "kb.sqlite3").exists()  # the catalog is in PostgreSQL
        finally:
            stack.stop()


def test_up_with_an_amqp_broker_runs_no_redis(tmp_path: Path) -> None:
    stack = Stack(tmp_path, broker="amqp")
    up = Proc(["up"], stack.env(), stack.logs / "up.log").start()
    try:
        wait_http(f"{stack.base_url}/readyz", timeout_s=120, proc=up)
        names = set()
        for pid in descendants(up.pid):
            try:
                names.add(Path(f"/proc/{pid}/comm").read_text().strip())
            except OSError:
                continue
        assert not any("redis" in name for name in names), names
        assert not (stack.data_dir / "redis" / "url").exists()
        stack.client.create_kb("up")
        stack.client.upload("up", _docs(1))
        assert [f["status"] for f in stack.client.wait_settled("up", expected=1)] == ["done"]
    finally:
        up.stop()
        stack.stop()
