"""Web pages into a knowledge base: check the URLs, record the request, queue its first pages."""

from __future__ import annotations

import uuid

from catalog import crawls, repository
from catalog.crawls import Seed
from catalog.models import FileStatus, UrlPageStatus
from ingestion.web.crawl import send_page
from ingestion.web.errors import UrlRefused
from ingestion.web.guard import check_url
from ingestion.web.links import sitemap_for
from ingestion.web.settings import UrlSettings
from kb_server.errors import InvalidInput, ServiceUnavailable
from kb_server.runtime.container import Services
from kb_server.schemas import (
    UploadError,
    UrlAccepted,
    UrlPagePublic,
    UrlRefreshChange,
    UrlRequestPublic,
    UrlSubmit,
    UrlSubmitResult,
)
from kb_server.services.files import check_capacity
from kb_server.services.kb_embedders import kb_embedder

_ACTIVE_FILE = (FileStatus.QUEUED, FileStatus.PROCESSING)
_ACTIVE_PAGE = (UrlPageStatus.PENDING, UrlPageStatus.FETCHING)


def submit_urls(services: Services, kb_name: str, body: UrlSubmit) -> UrlSubmitResult:
    """Check each URL (scheme, resolution, the SSRF guard) and queue the accepted ones' fetch.

    The worker checks every hop again when it fetches; this check answers the caller at once.

    Raises:
        NotFound: no such knowledge base.
        InvalidInput: too many URLs, depth / max_pages past `urls.*`, refresh_s under `urls.min_refresh_s`.
        UrlRefused: every URL was refused (the first one's reason).
        TooManyRequests: too much ingestion work pending.
        ServiceUnavailable: the broker cannot be reached.
    """
    limits = services.settings.urls
    if len(body.urls) > limits.max_urls_per_request:
        raise InvalidInput(f"at most {limits.max_urls_per_request} URLs per request (urls.max_urls_per_request)")
    if body.depth > limits.max_depth:
        raise InvalidInput(f"depth {body.depth} is past urls.max_depth ({limits.max_depth})")
    if body.max_pages > limits.max_pages:
        raise InvalidInput(f"max_pages {body.max_pages} is past urls.max_pages ({limits.max_pages})")
    refresh_s = _refresh_s(body.refresh_s, limits)
    check_capacity(services, kb_name)
    kb = repository.get_kb(services.db, kb_name)
    kb_embedder(services, kb)  # refuses a KB whose embedder is not served here
    entries: list[UrlAccepted] = []
    seeds: list[Seed] = []
    refusals: list[UrlRefused] = []
    for raw in body.urls:
        try:
            target = check_url(raw, allow_private=limits.allow_private)
        except UrlRefused as exc:
            refusals.append(exc)
            entries.append(UrlAccepted(url=raw, status="refused", error=UploadError(code=exc.code, detail=exc.detail)))
            continue
        seed = Seed(sitemap_for(target.url), "sitemap") if body.sitemap else Seed(target.url)
        seeds.append(seed)
        entries.append(UrlAccepted(url=raw, normalized=seed.url, status="accepted"))
    if not seeds:
        first = refusals[0]
        detail = "; ".join(r.detail for r in refusals)
        raise UrlRefused(first.code if all(r.code == first.code for r in refusals) else "url_refused", detail)
    request_id = uuid.uuid4().hex
    page_ids = crawls.create_request(services.db, request_id, kb.id, body.depth, body.max_pages, seeds, refresh_s)
    try:
        for page_id in page_ids:
            send_page(services.celery, page_id)
    except Exception as exc:
        raise ServiceUnavailable(f"the task queue cannot be reached: {exc}", retry_after=5) from exc
    return UrlSubmitResult(request_id=request_id, refresh_s=refresh_s, urls=entries)


def _refresh_s(asked: int | None, limits: UrlSettings) -> int | None:
    """Raises: InvalidInput (shorter than `urls.min_refresh_s`)."""
    refresh_s = limits.refresh_s if asked is None else asked
    if not refresh_s:
        return None
    if refresh_s < limits.min_refresh_s:
        source = "refresh_s" if asked is not None else "urls.refresh_s"
        raise InvalidInput(f"{source} {refresh_s} is under urls.min_refresh_s ({limits.min_refresh_s})")
    return refresh_s


def change_refresh(services: Services, kb_name: str, request_id: str, body: UrlRefreshChange) -> UrlRequestPublic:
    """Raises: NotFound (the knowledge base or the request); InvalidInput (under `urls.min_refresh_s`)."""
    refresh_s = _refresh_s(body.refresh_s, services.settings.urls)
    kb = repository.get_kb(services.db, kb_name)
    crawls.set_refresh(services.db, kb.id, request_id, refresh_s)
    return read_request(services, kb_name, request_id)


def read_request(services: Services, kb_name: str, request_id: str) -> UrlRequestPublic:
    """Raises: NotFound (the knowledge base or the request)."""
    kb = repository.get_kb(services.db, kb_name)
    request, views = crawls.get_request(services.db, kb.id, request_id)
    pages = [
        UrlPagePublic(
            url=v.page.url,
            kind=v.page.kind,  # type: ignore[arg-type]
            depth=v.page.depth,
            status=v.page.status,  # type: ignore[arg-type]
            title=v.page.title,
            file_id=v.page.file_id,
            file_status=v.file_status,
            chunks=v.file_chunks,
            error_code=v.page.error_code,
            error=v.page.error,
            checked_at=v.page.checked_at,
            next_refresh_at=v.page.next_refresh_at,
        )
        for v in views
    ]
    running = any(p.status in _ACTIVE_PAGE or p.file_status in _ACTIVE_FILE for p in pages)
    return UrlRequestPublic(
        request_id=request.id,
        state="running" if running else "done",
        depth=request.depth,
        max_pages=request.max_pages,
        pages_taken=request.pages,
        refresh_s=request.refresh_s,
        pages=pages,
    )
