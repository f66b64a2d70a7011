"""The API process's share of recovery: the ingestion sweeper, run from its own thread."""

from __future__ import annotations

from ingestion.recovery import RecoveryLoop
from kb_server.runtime.container import Services


def recovery_loop(services: Services) -> RecoveryLoop:
    return RecoveryLoop(services.celery, services.db, services.broker_url, services.settings.ingestion)
