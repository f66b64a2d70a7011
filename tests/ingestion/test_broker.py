"""The broker seen through `ingestion.broker`, the same on Redis and RabbitMQ: a ping, the queue's depth."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog import Database
from catalog.migrate import migrate
from ingestion import broker
from ingestion.celery_app import create_celery
from ingestion.metrics import (
    MetricsRecorder,
    RedisCounterStore,
    build_counter_store,
    read_outcomes,
    read_stage_histograms,
)
from ingestion.queueing import INGEST_TASK
from ingestion.settings import IngestionSettings
from kb_server.runtime.redis_server import EmbeddedRedis
from tests.support.rabbitmq import AMQP_URL, delete_queue, unique_queue_name

pytestmark = pytest.mark.integration


@pytest.fixture(params=["redis", "amqp"])
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "amqp":
        yield AMQP_URL
        return
    redis = EmbeddedRedis(tmp_path / "redis")
    try:
        yield redis.start()
    finally:
        redis.stop()


@pytest.fixture
def queue() -> Iterator[str]:
    name = unique_queue_name()
    try:
        yield name
    finally:
        delete_queue(name)


def test_queue_depth_counts_the_messages_waiting(broker_url: str, queue: str) -> None:
    assert broker.queue_depth(broker_url, queue) == 0  # never declared
    app = create_celery(broker_url, IngestionSettings(queue_name=queue))
    try:
        for n in range(3):
            app.send_task(INGEST_TASK, args=[n], task_id=f"{queue}-{n}")
    finally:
        app.close()
    assert broker.queue_depth(broker_url, queue) == 3


def test_a_broker_that_answers_pings_and_one_that_does_not_fails_at_once(broker_url: str) -> None:
    broker.ping(broker_url)
    down = "amqp://guest:guest@127.0.0.1:1//" if broker_url.startswith("amqp") else "redis://127.0.0.1:1/0"
    started = time.monotonic()
    with pytest.raises(Exception, match="refused"):
        broker.ping(down, timeout_s=1.0)
    assert time.monotonic() - started < 1.5  # readiness and /metrics must not hang on it


def test_the_workers_counters_live_in_redis_only_when_redis_is_the_broker(broker_url: str, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/kb.sqlite3")
    migrate(db)
    store = build_counter_store(broker_url, db)
    assert isinstance(store, RedisCounterStore) == broker_url.startswith("redis")
    recorder = MetricsRecorder(store)
    recorder.run("done", {"parsing": 0.5, "embedding": 0.0})
    recorder.run("failed", {"parsing": 2})
    stages = read_stage_histograms(store, ("parsing", "embedding"))
    assert (stages["parsing"]["count"], stages["parsing"]["sum"], stages["parsing"]["le:0.5"]) == (2, 2.5, 1)
    assert (stages["embedding"]["count"], stages["embedding"]["sum"]) == (1, 0.0)
    assert read_outcomes(store) == {"done": 1, "failed": 1}
    db.dispose()
