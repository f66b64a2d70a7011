"""Ingestion metrics recorded by workers into Redis, where the API's /metrics reads them.

Workers may run on other hosts and restart at any time, so they keep no counters of their own:
each observation is an atomic increment in a Redis hash (bucket counts, sum, count), which every
API process reads when scraped.
"""

from __future__ import annotations

import logging

import redis

from ingestion.broker import redis_client

log = logging.getLogger(__name__)

STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
STAGE_KEY = "kb:metrics:stage:{stage}"
OUTCOME_KEY = "kb:metrics:outcomes"


class MetricsRecorder:
    def __init__(self, broker_url: str | None) -> None:
        self._client: redis.Redis | None = redis_client(broker_url) if broker_url else None

    def stage(self, stage: str, seconds: float) -> None:
        if self._client is None:
            return
        key = STAGE_KEY.format(stage=stage)
        try:
            pipe = self._client.pipeline(transaction=False)
            for bound in STAGE_BUCKETS:
                if seconds <= bound:
                    pipe.hincrby(key, f"le:{bound}", 1)
            pipe.hincrby(key, "count", 1)
            pipe.hincrbyfloat(key, "sum", seconds)
            pipe.execute()
        except redis.RedisError:
            log.debug("stage metric not recorded", exc_info=True)

    def outcome(self, outcome: str) -> None:
        if self._client is None:
            return
        try:
            self._client.hincrby(OUTCOME_KEY, outcome, 1)
        except redis.RedisError:
            log.debug("outcome metric not recorded", exc_info=True)


def read_stage_histograms(client: redis.Redis, stages: tuple[str, ...]) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for stage in stages:
        raw = client.hgetall(STAGE_KEY.format(stage=stage))
        found[stage] = {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]
    return found


def read_outcomes(client: redis.Redis) -> dict[str, float]:
    return {k.decode(): float(v) for k, v in client.hgetall(OUTCOME_KEY).items()}  # type: ignore[union-attr]
