"""The workers' ingestion counters in the catalog (used when the broker is RabbitMQ), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from catalog import Database
from catalog.metrics import add_to_counters, read_counters
from ingestion.metrics import DatabaseCounterStore, MetricsRecorder, read_outcomes, read_stage_histograms

pytestmark = pytest.mark.unit


def test_counters_are_created_then_added_to(db: Database) -> None:
    add_to_counters(db, {("a", "count"): 1, ("a", "sum"): 0.25})
    add_to_counters(db, {("a", "count"): 1, ("a", "sum"): 0.5, ("b", "done"): 1})
    assert read_counters(db, ["a", "b", "never"]) == {"a": {"count": 2, "sum": 0.75}, "b": {"done": 1}, "never": {}}


def test_workers_adding_at_once_lose_no_increment(db: Database) -> None:
    """Every run adds to the same rows: concurrent upserts must neither deadlock nor drop one."""
    recorder = MetricsRecorder(DatabaseCounterStore(db))
    runs_per_thread, threads = 15, 4

    def work() -> None:
        for _ in range(runs_per_thread):
            recorder.run("done", {"parsing": 0.2, "embedding": 3.0})

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    runs = runs_per_thread * threads
    stages = read_stage_histograms(DatabaseCounterStore(db), ("parsing", "embedding", "indexing"))
    assert stages["parsing"]["count"] == runs
    assert stages["parsing"]["le:0.25"] == runs
    assert "le:2.5" not in stages["embedding"]
    assert stages["embedding"]["le:5.0"] == runs
    assert stages["embedding"]["sum"] == pytest.approx(3.0 * runs)
    assert stages["indexing"] == {}
    assert read_outcomes(DatabaseCounterStore(db)) == {"done": runs}
