"""Ingestion metrics recorded by workers, where every API process's /metrics reads them.

Workers may run on other hosts and restart at any time, so they keep no counters of their own:
each run adds its stage timings (histogram buckets, sum, count) and its outcome to shared counters,
in one write. The counters live in Redis when Redis is the broker (hashes, `HINCRBY`), and in the
catalog database otherwise (RabbitMQ has nowhere to keep them), so RabbitMQ needs no Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Protocol

from catalog.database import Database
from catalog.metrics import add_to_counters, read_counters
from ingestion.broker import is_redis, redis_client

log = logging.getLogger(__name__)

STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
STAGE_SERIES = "kb:metrics:stage:{stage}"
OUTCOME_SERIES = "kb:metrics:outcomes"


class CounterStore(Protocol):
    def add(self, increments: Mapping[tuple[str, str], float]) -> None: ...

    def read(self, series: Iterable[str]) -> dict[str, dict[str, float]]: ...


class RedisCounterStore:
    """One hash per series; increments of one run go in one pipeline."""

    def __init__(self, url: str) -> None:
        self._client = redis_client(url, timeout_s=1.0)

    def add(self, increments: Mapping[tuple[str, str], float]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for (series, field), value in increments.items():
            if isinstance(value, int):  # a field HINCRBYFLOAT wrote once refuses HINCRBY
                pipe.hincrby(series, field, value)
            else:
                pipe.hincrbyfloat(series, field, value)
        pipe.execute()

    def read(self, series: Iterable[str]) -> dict[str, dict[str, float]]:
        found = {}
        for name in series:
            raw = self._client.hgetall(name)
            found[name] = {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]
        return found


class DatabaseCounterStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, increments: Mapping[tuple[str, str], float]) -> None:
        add_to_counters(self._db, increments)

    def read(self, series: Iterable[str]) -> dict[str, dict[str, float]]:
        return read_counters(self._db, series)


def build_counter_store(broker_url: str, db: Database) -> CounterStore:
    return RedisCounterStore(broker_url) if is_redis(broker_url) else DatabaseCounterStore(db)


class MetricsRecorder:
    """What a worker run adds to the counters; a store that is down costs the figures, never the file."""

    def __init__(self, store: CounterStore | None) -> None:
        self._store = store

    def run(self, outcome: str, stages: Mapping[str, float]) -> None:
        if self._store is None:
            return
        increments: dict[tuple[str, str], float] = {(OUTCOME_SERIES, outcome): 1}
        for stage, seconds in stages.items():
            series = STAGE_SERIES.format(stage=stage)
            for bound in STAGE_BUCKETS:
                if seconds <= bound:
                    increments[(series, f"le:{bound}")] = 1
            increments[(series, "count")] = 1
            increments[(series, "sum")] = float(seconds)
        try:
            self._store.add(increments)
        except Exception:
            log.debug("ingestion metrics not recorded", exc_info=True)


def read_stage_histograms(store: CounterStore, stages: tuple[str, ...]) -> dict[str, dict[str, float]]:
    found = store.read(STAGE_SERIES.format(stage=stage) for stage in stages)
    return {stage: found[STAGE_SERIES.format(stage=stage)] for stage in stages}


def read_outcomes(store: CounterStore) -> dict[str, float]:
    return store.read([OUTCOME_SERIES])[OUTCOME_SERIES]
