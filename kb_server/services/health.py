"""Readiness: the broker (Redis or RabbitMQ) answers, at least one worker answers, the embedding model is loaded."""

from __future__ import annotations

from ingestion import broker
from kb_server.runtime.container import Services
from kb_server.schemas import Readiness


def readiness(services: Services, worker_timeout_s: float = 1.0) -> Readiness:
    checks: dict[str, bool] = {}
    detail: dict[str, str] = {}
    try:
        broker.ping(services.broker_url, timeout_s=1.0)
        checks["broker"] = True
    except Exception as exc:
        checks["broker"] = False
        detail["broker"] = str(exc) or type(exc).__name__
    checks["worker"] = False
    if checks["broker"]:
        try:
            replies = services.celery.control.ping(timeout=worker_timeout_s)
            checks["worker"] = bool(replies)
        except Exception as exc:
            detail["worker"] = str(exc)
    if not checks["worker"]:
        detail.setdefault("worker", "no worker answered")
    checks["model"] = services.embedder is not None
    return Readiness(ready=all(checks.values()), checks=checks, detail=detail)
