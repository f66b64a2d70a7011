"""The state of web-page requests: their pages, the page limit, the robots.txt read per host.

Every change is one conditional statement, so any number of workers may crawl one request and a
task may run twice: a page is added only while `pages < max_pages` (and only once per URL: the
UNIQUE(request_id, url) constraint), claimed only from `pending` (or from a `fetching` claim old
enough to be a dead worker's), and finished only from `fetching`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
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


@dataclass(frozen=True)
class PageView:
    page: UrlPage
    file_status: str | None
    file_chunks: int


def create_request(
    db: Database, request_id: str, kb_id: int, depth: int, max_pages: int, seeds: Sequence[Seed]
) -> list[int]:
    """Record a request and its first URLs (pages take slots of `max_pages`; sitemaps do not).

    Returns the ids of the pages to fetch, in order.
    """
    ids: list[int] = []
    with db.write() as s:
        s.add(UrlRequest(id=request_id, kb_id=kb_id, depth=depth, max_pages=max_pages, pages=0))
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
            .returning(UrlPage.request_id, UrlPage.url, UrlPage.kind, UrlPage.depth)
        ).first()
        if row is None:
            return None
        request = s.get_one(UrlRequest, row.request_id)
        return PageClaim(page_id, row.request_id, request.kb_id, row.url, row.kind, row.depth, request.depth)


def finish_page(
    db: Database,
    page_id: int,
    status: str,
    *,
    file_id: int | None = None,
    title: str | None = None,
    error_code: str | None = None,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> bool:
    """Record what came of a claimed page; False if it was not `fetching` any more."""
    with db.write() as s:
        result = s.execute(
            update(UrlPage)
            .where(UrlPage.id == page_id, UrlPage.status == UrlPageStatus.FETCHING)
            .values(
                status=status,
                file_id=file_id,
                title=title[:255] if title else None,
                error_code=error_code,
                error=error[:2000] if error else None,
                etag=etag[:255] if etag else None,
                last_modified=last_modified[:64] if last_modified else None,
                updated_at=utcnow(),
            )
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


def robots_body(db: Database, request_id: str, origin: str) -> str | None:
    with db.read() as s:
        return s.scalar(select(UrlRobots.body).where(UrlRobots.request_id == request_id, UrlRobots.origin == origin))


def keep_robots(db: Database, request_id: str, origin: str, body: str) -> None:
    """Keep a host's robots.txt for the request; the first worker to read it wins."""
    try:
        with db.write() as s:
            s.add(UrlRobots(request_id=request_id, origin=origin, body=body))
    except IntegrityError:
        pass


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
