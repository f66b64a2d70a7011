"""The recovery loop: sweep for lost work (and web pages due for a refresh) at start-up and then
every `recovery_interval_s`.

It runs in every API process and every worker; the sweeper lock in the database makes one of
them do the sweep at a time, so recovery works with no API process running, and a worker on
the same host as a dead one re-sends its files without waiting for their leases to run out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from celery import Celery

from catalog.database import Database
from catalog.owners import new_owner
from ingestion import fork_guard
from ingestion.queueing import sweep
from ingestion.settings import IngestionSettings
from ingestion.web.refresh import sweep_pages

log = logging.getLogger(__name__)


class RecoveryLoop:
    def __init__(
        self,
        celery: Celery,
        db: Database,
        broker_url: str,
        settings: IngestionSettings,
        every_tick: Callable[[], object] | None = None,
        interval_s: float | None = None,
    ) -> None:
        self._celery, self._db, self._broker_url, self._settings = celery, db, broker_url, settings
        self._every_tick = every_tick
        self._interval_s = interval_s or settings.recovery_interval_s
        self.owner = new_owner()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-recovery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with fork_guard.held():  # a pool process forked mid-query would inherit SQLite's locks
                if self._every_tick is not None:
                    try:
                        self._every_tick()
                    except Exception:
                        log.exception("recovery tick failed; will try again")
                try:
                    report = sweep(self._celery, self._db, self._broker_url, self._settings, self.owner)
                    if not report.skipped:
                        sweep_pages(self._celery, self._db, self._settings, idle=report.idle)
                except Exception:
                    log.exception("recovery sweep failed; will try again")
            if self._stop.wait(self._interval_s):
                return
