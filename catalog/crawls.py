"""The state of web-page requests: their pages, the page limit, the robots.txt read per host.

Every change is one conditional statement, so any number of workers may crawl one request and a
task may run twice: a page is added only while `pages < max_pages` (and only once per URL: the
UNIQUE(request_id, url) constraint), claimed only from `pending` (or from a `fetching` claim old
enough to be a dead worker's), and finished only from `fetching`. A refresh sends a settled page
back to `pending` (catalog/refreshes.py) and the same claim and finish apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from catalog.database import Database
from catalog.errors import NotFound
from catalog.models import File, UrlPage, UrlPageStatus, UrlRequest, UrlRobots, utcnow

SETTLED = (UrlPageStatus.FETCHED, UrlPageStatus.DUPLICATE, UrlPageStatus.FAILED)


@dataclass(frozen=True)
class Seed:
    url: str
    kind: str = "page"  # page | sitemap


@dataclass(frozen=True)
class PageClaim:
    page_id: int
    request_id: str
    kb_id: int
    url: str
    kind: str
    depth: int
    max_depth: int
    # What the page held when it was last read: a refresh asks the site whether it changed.
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class PageView:
    page: UrlPage
    file_status: str | None
    file_chunks: int


def create_request(
    db: Database,
    request_id: str,
    kb_id: int,
    depth: int,
    max_pages: int,
    seeds: Sequence[Seed],
    refresh_s: int | None = None,
) -> list[int]:
    """Record a request and its first URLs (pages take slots of `max_pages`; sitemaps do not).

    Returns the ids of the pages to fetch, in order.
    """
    ids: list[int] = []
    with db.write() as s:
        s.add(UrlRequest(id=request_id, kb_id=kb_id, depth=depth, max_pages=max_pages, pages=0, refresh_s=refresh_s))
        s.flush()
        seen: set[str] = set()
        taken = 0
        for seed in seeds:
            if seed.url in seen or (seed.kind == "page" and taken >= max_pages):
                continue
            seen.add(seed.url)
            taken += seed.kind == "page"
            page = UrlPage(request_id=request_id, url=seed.url, kind=seed.kind, depth=0)
            s.add(page)
            s.flush()
            ids.append(page.id)
        s.execute(update(UrlRequest).where(UrlRequest.id == request_id).values(pages=taken))
    return ids


def add_page(db: Database, request_id: str, url: str, depth: int) -> int | None:
    """Add a discovered page if the request has a slot left; its id, or None (seen, or no slot).

    A page already recorded but still `pending` is returned again, so a retried crawl re-sends
    work it may have lost; claiming is what keeps it from being fetched twice.
    """
    try:
        with db.write() as s:
            slot = s.execute(
                update(UrlRequest)
                .where(UrlRequest.id == request_id, UrlRequest.pages < UrlRequest.max_pages)
                .values(pages=UrlRequest.pages + 1)
            )
            if getattr(slot, "rowcount", 0) != 1:
                return _pending_page(db, request_id, url)
            page = UrlPage(request_id=request_id, url=url, kind="page", depth=depth)
            s.add(page)
            s.flush()  # a second insert of the URL fails here and the slot is given back
            return page.id
    except IntegrityError:
        return _pending_page(db, request_id, url)


def _pending_page(db: Database, request_id: str, url: str) -> int | None:
    with db.read() as s:
        return s.scalar(
            select(UrlPage.id).where(
                UrlPage.request_id == request_id, UrlPage.url == url, UrlPage.status == UrlPageStatus.PENDING
            )
        )


def claim_page(db: Database, page_id: int, stale_s: float) -> PageClaim | None:
    """Take a page to fetch; None when it is done or another live worker has it."""
    now = utcnow()
    stale_before = now - timedelta(seconds=stale_s)
    with db.write() as s:
        row = s.execute(
            update(UrlPage)
            .where(
                UrlPage.id == page_id,
                or_(
                    UrlPage.status == UrlPageStatus.PENDING,
                    (UrlPage.status == UrlPageStatus.FETCHING) & (UrlPage.claimed_at < stale_before),
                ),
            )
            .values(status=UrlPageStatus.FETCHING, claimed_at=now, updated_at=now)
            .returning(
                UrlPage.request_id,
                UrlPage.url,
                UrlPage.kind,
                UrlPage.depth,
                UrlPage.sha256,
                UrlPage.etag,
                UrlPage.last_modified,
            )
        ).first()
        if row is None:
            return None
        request = s.get_one(UrlRequest, row.request_id)
        return PageClaim(
            page_id,
            row.request_id,
            request.kb_id,
            row.url,
            row.kind,
            row.depth,
            request.depth,
            sha256=row.sha256,
            etag=row.etag,
            last_modified=row.last_modified,
        )


def finish_page(
    db: Database,
    page_id: int,
    status: str,
    *,
    file_id: int | None = None,
    title: str | None = None,
    error: str | None = None,
    sha256: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> bool:
    """Record what a claimed page's content came to (`fetched` or `duplicate`); False if it was
    not `fetching` any more."""
    now = utcnow()
    return _settle(
        db,
        page_id,
        status=status,
        outcome=status,
        file_id=file_id,
        title=title[:255] if title else None,
        error_code=None,
        error=error[:2000] if error else None,
        sha256=sha256,
        etag=etag[:255] if etag else None,
        last_modified=last_modified[:64] if last_modified else None,
        checked_at=now,
        updated_at=now,
    )


def keep_page(db: Database, page_id: int, *, etag: str | None, last_modified: str | None) -> bool:
    """A refreshed page found unchanged: it ends as it did last time, with the validators just
    served (a 304 may renew them); False if it was not `fetching` any more."""
    now = utcnow()
    return _settle(
        db,
        page_id,
        status=func.coalesce(UrlPage.outcome, UrlPageStatus.FETCHED),  # pages read before 0007 kept no outcome
        error_code=None,
        error=case((UrlPage.outcome == UrlPageStatus.DUPLICATE, UrlPage.error), else_=None),
        etag=etag[:255] if etag else UrlPage.etag,
        last_modified=last_modified[:64] if last_modified else UrlPage.last_modified,
        checked_at=now,
        updated_at=now,
    )


def fail_page(db: Database, page_id: int, error_code: str, error: str) -> bool:
    """A claimed page that could not be read. What it held before (file, title, content, validators)
    stays: its document keeps serving, and a later refresh that finds it unchanged says `fetched`
    again. False if it was not `fetching` any more."""
    now = utcnow()
    return _settle(
        db,
        page_id,
        status=UrlPageStatus.FAILED,
        error_code=error_code,
        error=error[:2000],
        checked_at=now,
        updated_at=now,
    )


def _settle(db: Database, page_id: int, **values: Any) -> bool:
    """Settle a `fetching` page, and with its request's `refresh_s` schedule its next read."""
    with db.write() as s:
        refresh_s = s.scalar(
            select(UrlRequest.refresh_s).join(UrlPage, UrlPage.request_id == UrlRequest.id).where(UrlPage.id == page_id)
        )
        values["next_refresh_at"] = values["checked_at"] + timedelta(seconds=refresh_s) if refresh_s else None
        result = s.execute(
            update(UrlPage).where(UrlPage.id == page_id, UrlPage.status == UrlPageStatus.FETCHING).values(**values)
        )
        return getattr(result, "rowcount", 0) == 1


def release_page(db: Database, page_id: int) -> None:
    """Give a claimed page back (a passing fault): the retry claims it again at once."""
    with db.write() as s:
        s.execute(
            update(UrlPage)
            .where(UrlPage.id == page_id, UrlPage.status == UrlPageStatus.FETCHING)
            .values(status=UrlPageStatus.PENDING, claimed_at=None, updated_at=utcnow())
        )


def robots_body(db: Database, request_id: str, origin: str, max_age_s: float) -> str | None:
    """The host's robots.txt as kept for the request; None if never read or read over `max_age_s` ago."""
    fresh_after = utcnow() - timedelta(seconds=max_age_s)
    with db.read() as s:
        return s.scalar(
            select(UrlRobots.body).where(
                UrlRobots.request_id == request_id, UrlRobots.origin == origin, UrlRobots.read_at >= fresh_after
            )
        )


def keep_robots(db: Database, request_id: str, origin: str, body: str, max_age_s: float) -> None:
    """Keep a host's robots.txt for the request: the first worker to read it wins, and the first to
    read it again once the kept one is over `max_age_s` old."""
    now = utcnow()
    try:
        with db.write() as s:
            s.add(UrlRobots(request_id=request_id, origin=origin, body=body, read_at=now))
    except IntegrityError:
        with db.write() as s:
            s.execute(
                update(UrlRobots)
                .where(
                    UrlRobots.request_id == request_id,
                    UrlRobots.origin == origin,
                    or_(UrlRobots.read_at.is_(None), UrlRobots.read_at < now - timedelta(seconds=max_age_s)),
                )
                .values(body=body, read_at=now)
            )


def set_refresh(db: Database, kb_id: int, request_id: str, refresh_s: int | None) -> None:
    """Change how often a request's pages are fetched again (None: never), counted from now.

    Raises:
        NotFound: no such request in this knowledge base.
    """
    now = utcnow()
    with db.write() as s:
        found = s.execute(
            update(UrlRequest).where(UrlRequest.id == request_id, UrlRequest.kb_id == kb_id).values(refresh_s=refresh_s)
        )
        if getattr(found, "rowcount", 0) != 1:
            raise NotFound(
                f"URL request {request_id!r} does not exist in this knowledge base", code="request_not_found"
            )
        # Pages being fetched now are scheduled when they settle (`_settle` reads the new value).
        s.execute(
            update(UrlPage)
            .where(UrlPage.request_id == request_id, UrlPage.status.in_(SETTLED))
            .values(next_refresh_at=now + timedelta(seconds=refresh_s) if refresh_s else None)
        )


def get_request(db: Database, kb_id: int, request_id: str) -> tuple[UrlRequest, list[PageView]]:
    """A request with its pages (and their files' status), in the order they were found.

    Raises:
        NotFound: no such request in this knowledge base.
    """
    with db.read() as s:
        request = s.scalar(select(UrlRequest).where(UrlRequest.id == request_id, UrlRequest.kb_id == kb_id))
        if request is None:
            raise NotFound(
                f"URL request {request_id!r} does not exist in this knowledge base", code="request_not_found"
            )
        rows = s.execute(
            select(UrlPage, File.status, File.chunks)
            .outerjoin(File, File.id == UrlPage.file_id)
            .where(UrlPage.request_id == request_id)
            .order_by(UrlPage.id)
        ).all()
        return request, [PageView(page, status, int(chunks or 0)) for page, status, chunks in rows]
