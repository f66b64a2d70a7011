"""Pages the recovery sweeper sends to be fetched: due for a refresh, or whose message was lost.

The sweeper runs in one process at a time (the `sweeper` lock), but every change here is still one
conditional UPDATE that re-checks what it was found for, so a page a worker is settling right then
is left alone, and a page is never sent twice for one reason.

  settled (fetched | duplicate | failed), next_refresh_at due  ──claim_due──►  pending
  pending, untouched for a grace (its message lost)            ──touch_stuck──► pending (sent again)
  fetching, claimed long ago (a dead worker's)                 ──touch_stuck──► pending (sent again)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update

from catalog.crawls import SETTLED
from catalog.database import Database
from catalog.models import UrlPage, UrlPageStatus


def due_pages(db: Database, now: datetime, limit: int) -> list[int]:
    """Ids of settled pages whose refresh is due, the longest-waiting first."""
    with db.read() as s:
        return list(
            s.scalars(
                select(UrlPage.id)
                .where(UrlPage.next_refresh_at <= now, UrlPage.status.in_(SETTLED))
                .order_by(UrlPage.next_refresh_at)
                .limit(limit)
            )
        )


def claim_due(db: Database, page_id: int, now: datetime) -> bool:
    """Send a due page back to `pending` for its refresh; False if it is not due (any more)."""
    with db.write() as s:
        result = s.execute(
            update(UrlPage)
            .where(UrlPage.id == page_id, UrlPage.next_refresh_at <= now, UrlPage.status.in_(SETTLED))
            .values(status=UrlPageStatus.PENDING, next_refresh_at=None, claimed_at=None, updated_at=now)
        )
        return getattr(result, "rowcount", 0) == 1


def stuck_pages(
    db: Database, now: datetime, pending_grace_s: float | None, stale_claim_s: float, limit: int
) -> list[int]:
    """Pages `pending` untouched for `pending_grace_s` (None: none of them), or `fetching` under a
    claim older than `stale_claim_s`."""
    pending_before, claimed_before = _cutoffs(now, pending_grace_s, stale_claim_s)
    with db.read() as s:
        return list(
            s.scalars(
                select(UrlPage.id)
                .where(_stuck(pending_before, claimed_before))
                .order_by(UrlPage.updated_at)
                .limit(limit)
            )
        )


def touch_stuck(db: Database, page_id: int, now: datetime, pending_grace_s: float | None, stale_claim_s: float) -> bool:
    """Make a stuck page `pending` again, as of now (so it is sent once per grace); False if it is
    not stuck any more (a worker took or settled it)."""
    pending_before, claimed_before = _cutoffs(now, pending_grace_s, stale_claim_s)
    with db.write() as s:
        result = s.execute(
            update(UrlPage)
            .where(UrlPage.id == page_id, _stuck(pending_before, claimed_before))
            .values(status=UrlPageStatus.PENDING, claimed_at=None, updated_at=now)
        )
        return getattr(result, "rowcount", 0) == 1


def _cutoffs(now: datetime, pending_grace_s: float | None, stale_claim_s: float) -> tuple[datetime | None, datetime]:
    pending_before = now - timedelta(seconds=pending_grace_s) if pending_grace_s is not None else None
    return pending_before, now - timedelta(seconds=stale_claim_s)


def _stuck(pending_before: datetime | None, claimed_before: datetime) -> ColumnElement[bool]:
    stale = (UrlPage.status == UrlPageStatus.FETCHING) & (UrlPage.claimed_at < claimed_before)
    if pending_before is None:
        return stale
    return stale | ((UrlPage.status == UrlPageStatus.PENDING) & (UrlPage.updated_at < pending_before))
