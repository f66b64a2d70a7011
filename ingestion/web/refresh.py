"""The web-page part of the recovery sweep: pages due for a refresh, and pages whose message was lost.

It runs right after the files' sweep, under the same `sweeper` lock, so one process at a time
sends these: each page is first claimed with one conditional UPDATE (catalog/refreshes.py), then
its fetch task is sent. A send that fails leaves the page `pending`, and a later sweep sends it.
The fetch itself is the crawl's (ingestion/web/crawl.py): conditional on the page's validators,
and only other bytes are ingested, as the next version of the page's document.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import Celery

from catalog import refreshes
from catalog.database import Database
from catalog.models import utcnow
from ingestion.settings import IngestionSettings
from ingestion.web.crawl import STALE_CLAIM_S, send_page

log = logging.getLogger(__name__)

# Pages sent per sweep for each reason; the rest wait for the next sweep.
SWEEP_BATCH = 200


@dataclass(frozen=True)
class PageSweep:
    refreshed: int
    resent: int


def sweep_pages(app: Celery, db: Database, settings: IngestionSettings, *, idle: bool) -> PageSweep:
    """Send due refreshes, and re-send pages stuck `pending` (only when the queue's waiting list is
    empty, `idle`: otherwise their message may still be in it) or `fetching` under a dead claim.

    Raises:
        Exception: database faults (the recovery loop logs them and tries again).
    """
    now = utcnow()
    refreshed = resent = 0
    try:
        for page_id in refreshes.due_pages(db, now, SWEEP_BATCH):
            if refreshes.claim_due(db, page_id, now):
                send_page(app, page_id)
                refreshed += 1
        grace = settings.stale_queued_s if idle else None
        for page_id in refreshes.stuck_pages(db, now, grace, STALE_CLAIM_S, SWEEP_BATCH):
            if refreshes.touch_stuck(db, page_id, now, grace, STALE_CLAIM_S):
                send_page(app, page_id)
                resent += 1
    except Exception as exc:  # the broker: what was claimed stays pending, and is sent again later
        log.warning("recovery: could not send web pages, will retry: %s", exc)
    if refreshed or resent:
        log.info("recovery: %s web page(s) sent to refresh, %s sent again", refreshed, resent)
    return PageSweep(refreshed, resent)
