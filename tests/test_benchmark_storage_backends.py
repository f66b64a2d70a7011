"""The storage benchmark's pieces run (no timing is asserted; the benchmark itself is not run)."""

from __future__ import annotations

import psycopg
import pytest

from benchmarks import storage_backends as bench

pytestmark = pytest.mark.unit


def test_corpus_is_real_files_one_kb_per_source() -> None:
    for quick in (True, False):
        sources = bench.corpus(quick)
        assert bench.EMPTY_KB not in sources
        assert all(paths and all(p.is_file() for p in paths) for paths in sources.values())
    full = bench.corpus()
    assert {"faq", "nodejs", "manual-pdf", "manual-docx", "manual-epub", "manual-odt", "manual-html"} <= set(full)


def test_the_same_queries_every_time_and_runs_in_swapped_pairs() -> None:
    assert bench.queries(30) == bench.queries(30)
    assert len(set(bench.queries(30))) == 30
    assert bench.pair_orders(2) == ["local", "database", "database", "local"]


def test_temporary_database_is_created_and_dropped() -> None:
    with bench.temporary_database() as url:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
    with psycopg.connect(bench.ADMIN_URL) as admin:
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None


def test_report_prints_database_over_local() -> None:
    runs = [
        bench.Run("local", chunks=100, ingest_s=10.0, cold_ms=[10.0, 20.0], warm_ms=[5.0, 6.0]),
        bench.Run("database", chunks=100, ingest_s=20.0, cold_ms=[30.0, 40.0], warm_ms=[5.0, 6.0]),
    ]
    text = bench.report(runs)
    assert "chunks/s  0.50" in text
    assert "cold p95  2.00" in text
    assert "warm p95  1.00" in text
