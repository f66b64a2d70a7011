"""The Celery task that fetches one page: retries and failure records only; the work is `crawl.process_page`."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from kombu.exceptions import OperationalError as BrokerError

from catalog import crawls
from catalog.models import UrlPageStatus
from ingestion import runtime
from ingestion.errors import transient_faults
from ingestion.web.crawl import WEB_TASK, CrawlContext, process_page
from ingestion.web.settings import UrlSettings

log = logging.getLogger(__name__)

# A broker that cannot take the pages a page links to is passing too: the rerun adds the same
# links again (they are known and still pending) and sends them.
TRANSIENT: tuple[type[BaseException], ...] = (*transient_faults(), BrokerError)
_settings = UrlSettings()


def install(settings: UrlSettings) -> None:
    """The worker's `urls.*` settings, set once before the pool forks."""
    global _settings
    _settings = settings


def register_web_tasks(app: Celery) -> None:
    @app.task(
        name=WEB_TASK,
        bind=True,
        acks_late=True,  # safe: a page is claimed once, and its file and links are deduplicated
        reject_on_worker_lost=True,
        soft_time_limit=600,
        time_limit=660,
        autoretry_for=TRANSIENT,
        retry_backoff=True,
        retry_backoff_max=60,
        max_retries=5,
    )
    def fetch_page(self: Task, page_id: int) -> dict[str, Any]:
        context = runtime.current()
        ctx = CrawlContext(db=context.db, uploads=context.uploads, celery=self.app, settings=_settings)
        try:
            status = process_page(ctx, int(page_id))
        except TRANSIENT:
            crawls.release_page(ctx.db, int(page_id))
            raise
        except Exception as exc:
            log.exception("url page %s: fetch failed unexpectedly", page_id)
            reason = f"internal error while fetching: {type(exc).__name__}: {exc}"[:500]
            crawls.fail_page(ctx.db, int(page_id), "internal_error", reason)
            status = UrlPageStatus.FAILED
        return {"page_id": int(page_id), "status": status}
