"""Runs the ingestion sweeper periodically inside the API process."""

from __future__ import annotations

import logging
import threading

from ingestion.queueing import sweep
from kb_server.runtime.container import Services

log = logging.getLogger(__name__)


class RecoveryLoop:
    """Looks for work the queue lost at start-up and then every `recovery_interval_s`."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-recovery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        settings = self._services.settings.ingestion
        while True:
            try:
                sweep(self._services.celery, self._services.db, self._services.broker_url, settings)
            except Exception:
                log.exception("recovery sweep failed; will try again")
            if self._stop.wait(settings.recovery_interval_s):
                return
