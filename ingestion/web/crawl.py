"""Fetch one page of a URL request, register it as a file, and add the pages it leads to.

Each page is its own task, so several workers crawl one request; the limits and the "each URL
once" rule live in the catalog (`catalog.crawls`). A page's links are added before the page is
marked finished, so a run that dies in between is redone (its file comes back as its own
duplicate, its links as already known) and nothing is lost or doubled.

A request with `refresh_s` has its settled pages sent again when due (ingestion/web/refresh.py):
the GET is conditional on the validators kept on the page, a 304 or the same bytes change nothing,
and other bytes become the next version of the document with the page's URL (catalog/versions.py)
— the old version serves until the new one is done.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from celery import Celery

from catalog import crawls
from catalog.crawls import PageClaim
from catalog.database import Database
from catalog.models import UrlPageStatus
from ingestion.filetypes import kind_of
from ingestion.registration import register_blob
from ingestion.uploads import UploadStore
from ingestion.web.errors import UrlRefused
from ingestion.web.fetch import FetchedPage, NotModified, PageFetcher
from ingestion.web.guard import Resolver, system_resolver
from ingestion.web.links import canonical, name_from_url, parse_page, sitemap_urls
from ingestion.web.robots import RobotsRules
from ingestion.web.settings import UrlSettings

log = logging.getLogger(__name__)

WEB_TASK = "kb.fetch_page"
# A page `fetching` this long belongs to a dead worker and may be claimed again.
STALE_CLAIM_S = 900.0
MAX_NESTED_SITEMAPS = 20
# A page's file is registered under a task id derived from the page, so a rerun knows its own.
_TASK_NAMESPACE = uuid.UUID("6b62a5e0-7765-6270-6167-650000000000")

_EXTENSIONS = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/csv": ".csv",
    "application/json": ".json",
    "application/pdf": ".pdf",
}


@dataclass
class CrawlContext:
    db: Database
    uploads: UploadStore
    celery: Celery
    settings: UrlSettings
    resolver: Resolver = system_resolver


def send_page(app: Celery, page_id: int) -> None:
    """Queue the fetch of one page (the broker's own retries apply; a failure raises)."""
    app.send_task(WEB_TASK, args=[page_id], retry=True)


def process_page(ctx: CrawlContext, page_id: int) -> str:
    """Fetch a claimed page (or read a sitemap) and record the outcome; returns the page's status,
    "unchanged" for a refresh that found nothing new, or "skipped" when another run has it or had it.

    Raises:
        Exception: faults that are not the page's (database, broker, a bug), with the page still
            claimed: the caller gives it back (`crawls.release_page`) or fails it.
    """
    claim = crawls.claim_page(ctx.db, page_id, STALE_CLAIM_S)
    if claim is None:
        return "skipped"
    with PageFetcher(ctx.settings, ctx.uploads, resolver=ctx.resolver) as fetcher:
        robots = RobotsRules(ctx.db, claim.request_id, fetcher)
        try:
            if claim.kind == "sitemap":
                return _read_sitemap(ctx, claim, fetcher, robots)
            return _fetch_page(ctx, claim, fetcher, robots)
        except UrlRefused as exc:
            log.info("url %s: %s (%s)", claim.url, exc.code, exc.detail)
            crawls.fail_page(ctx.db, page_id, exc.code, exc.detail)
            return UrlPageStatus.FAILED


def _fetch_page(ctx: CrawlContext, claim: PageClaim, fetcher: PageFetcher, robots: RobotsRules) -> str:
    page = fetcher.fetch(claim.url, robots.check, etag=claim.etag, last_modified=claim.last_modified)
    if isinstance(page, NotModified):
        return _unchanged(ctx, claim, page.etag, page.last_modified)
    if page.blob.sha256 == claim.sha256:
        ctx.uploads.discard(page.blob)
        return _unchanged(ctx, claim, page.etag, page.last_modified)
    try:
        extension = _extension(page)
        title: str | None = None
        links: list[str] = []
        if extension == ".html":
            html = page.blob.tmp_path.read_bytes().decode(page.charset or "utf-8", errors="replace")
            title, links = parse_page(html, page.url)
    except BaseException:
        ctx.uploads.discard(page.blob)
        raise
    name = document_name(title, page.url, extension)
    # Derived from the page and its bytes: a rerun of this fetch knows its own file by it.
    task_id = uuid.uuid5(_TASK_NAMESPACE, f"{claim.request_id}/{claim.page_id}/{page.blob.sha256}").hex
    reg = register_blob(
        ctx.db,
        ctx.celery,
        ctx.uploads,
        claim.kb_id,
        name,
        page.blob,
        source_url=page.url,
        task_id=task_id,
        replace_source=True,  # the page read before with other bytes: this is its next version
    )
    if reg.status == "rejected":
        raise UrlRefused("unsupported_content", reg.error or "the page's content cannot be read")
    if claim.depth < claim.max_depth:
        _follow(ctx, claim, robots, [link for link in links if _same_host(link, claim.url, page.url)])
    own = reg.status == "queued" or reg.task_id == task_id  # a rerun finds its own file again
    status = UrlPageStatus.FETCHED if own else UrlPageStatus.DUPLICATE
    detail = None if own else f"the same bytes are already in the knowledge base as file {reg.file_id}"
    crawls.finish_page(
        ctx.db,
        claim.page_id,
        status,
        file_id=reg.file_id,
        title=title or name,
        error=detail,
        sha256=page.blob.sha256,
        etag=page.etag,
        last_modified=page.last_modified,
    )
    return status


def _unchanged(ctx: CrawlContext, claim: PageClaim, etag: str | None, last_modified: str | None) -> str:
    crawls.keep_page(ctx.db, claim.page_id, etag=etag, last_modified=last_modified)
    return "unchanged"


def _follow(ctx: CrawlContext, claim: PageClaim, robots: RobotsRules, links: list[str]) -> None:
    for link in links:
        if not robots.allowed(link):
            continue
        page_id = crawls.add_page(ctx.db, claim.request_id, link, claim.depth + 1)
        if page_id is not None:
            send_page(ctx.celery, page_id)


def _read_sitemap(ctx: CrawlContext, claim: PageClaim, fetcher: PageFetcher, robots: RobotsRules) -> str:
    pages: list[str] = []
    queue, read = [claim.url], 0
    while queue and read <= MAX_NESTED_SITEMAPS:
        url = queue.pop(0)
        status, body = fetcher.fetch_small(url, ctx.settings.max_bytes)
        read += 1
        if status != 200:
            raise UrlRefused("http_status", f"the sitemap {url} answered HTTP {status}")
        found, nested = sitemap_urls(body)
        pages += found
        queue += nested
    added = 0
    for raw in pages:
        try:
            url = canonical(raw)
        except UrlRefused:
            continue
        if not _same_host(url, claim.url) or not robots.allowed(url):
            continue
        page_id = crawls.add_page(ctx.db, claim.request_id, url, 0)
        if page_id is not None:
            send_page(ctx.celery, page_id)
            added += 1
    title = f"sitemap: {len(pages)} URLs listed, {added} added"
    crawls.finish_page(ctx.db, claim.page_id, UrlPageStatus.FETCHED, title=title)
    return UrlPageStatus.FETCHED


def document_name(title: str | None, url: str, extension: str) -> str:
    """The page's title (or the URL's last path part) with the extension its content was read as."""
    base = (title or "").replace("/", "-").replace("\\", "-").strip() or name_from_url(url)
    return base if base.lower().endswith(extension) else f"{base}{extension}"


def _extension(page: FetchedPage) -> str:
    """Raises: UrlRefused `unsupported_content`."""
    ext = _EXTENSIONS.get(page.content_type)
    if ext is None:  # e.g. application/octet-stream: the URL's own extension may say
        suffix = PurePosixPath(urlsplit(page.url).path).suffix.lower()
        ext = suffix if kind_of(suffix) is not None else None
    if ext is None:
        raise UrlRefused(
            "unsupported_content", f"{page.url}: content type {page.content_type or '(none)'!r} is not read"
        )
    return ext


def _same_host(url: str, *others: str) -> bool:
    # Host and port (canonical URLs drop default ports, so http:// and https:// of a site agree).
    netloc = urlsplit(url).netloc
    return any(netloc == urlsplit(other).netloc for other in others)
