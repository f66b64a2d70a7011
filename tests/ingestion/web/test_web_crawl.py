"""One page's task, run twice or rerun after a crash: nothing fetched into the KB twice, no link added
twice; refreshed, it registers only changed bytes, as the next version of the page's document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery import Celery
from sqlalchemy import update

from catalog import Database, KnowledgeBase, crawls, refreshes, repository
from catalog.crawls import Seed
from catalog.models import UrlPage, utcnow
from ingestion.settings import IngestionSettings
from ingestion.uploads import UploadStore
from ingestion.web.crawl import CrawlContext, process_page
from ingestion.web.refresh import PageSweep, sweep_pages
from ingestion.web.settings import UrlSettings
from tests.support.web_site import WebSite

pytestmark = pytest.mark.unit


@pytest.fixture
def ctx(db: Database, uploads: UploadStore) -> Iterator[CrawlContext]:
    app = Celery("test", broker="memory://", set_as_current=False)  # real sends, to an in-process broker
    yield CrawlContext(db=db, uploads=uploads, celery=app, settings=UrlSettings(allow_private=True))
    app.close()


def pages(db: Database, kb: KnowledgeBase, site: WebSite) -> dict[str, str]:
    _, views = crawls.get_request(db, kb.id, "r")
    return {v.page.url.removeprefix(site.base): v.page.status for v in views}


def test_a_page_run_twice_or_rerun_after_a_crash_registers_one_file(
    ctx: CrawlContext, kb: KnowledgeBase, site: WebSite
) -> None:
    [index] = crawls.create_request(ctx.db, "r", kb.id, 1, 50, [Seed(site.url("/index.html"))])
    assert process_page(ctx, index) == "fetched"
    found = pages(ctx.db, kb, site)
    assert found == {"/index.html": "fetched", "/a.html": "pending", "/b.html": "pending", "/old.html": "pending"}
    assert process_page(ctx, index) == "skipped"  # the message delivered twice

    # A worker that died after registering the file and adding the links, before finishing.
    long_ago = utcnow() - timedelta(hours=1)
    with ctx.db.write() as s:
        unfinished = {"sha256": None, "etag": None, "last_modified": None, "outcome": None}
        s.execute(
            update(UrlPage).where(UrlPage.id == index).values(status="fetching", claimed_at=long_ago, **unfinished)
        )
    assert process_page(ctx, index) == "fetched"  # its own file, not a duplicate
    assert pages(ctx.db, kb, site) == found
    [file] = repository.list_files(ctx.db, kb.id)
    assert (file.name, file.source_url) == ("Allotment Handbook.html", site.url("/index.html"))


def test_links_stop_at_max_pages(ctx: CrawlContext, kb: KnowledgeBase, site: WebSite) -> None:
    [index] = crawls.create_request(ctx.db, "r", kb.id, 1, 2, [Seed(site.url("/index.html"))])
    process_page(ctx, index)
    assert pages(ctx.db, kb, site) == {"/index.html": "fetched", "/a.html": "pending"}


def refresh(ctx: CrawlContext, page_id: int) -> str:
    """What the sweeper does when the page is due, then the fetch task."""
    assert refreshes.claim_due(ctx.db, page_id, utcnow() + timedelta(seconds=61))
    return process_page(ctx, page_id)


def test_a_refresh_re_ingests_only_changed_content_as_the_next_version(
    ctx: CrawlContext, kb: KnowledgeBase, site: WebSite
) -> None:
    site.no_validators.add("/b.html")  # one page the site serves without ETag or Last-Modified
    a, b = crawls.create_request(
        ctx.db, "r", kb.id, 0, 5, [Seed(site.url("/a.html")), Seed(site.url("/b.html"))], refresh_s=60
    )
    assert (process_page(ctx, a), process_page(ctx, b)) == ("fetched", "fetched")
    first = {f.source_url: f for f in repository.list_files(ctx.db, kb.id)}

    assert (refresh(ctx, a), refresh(ctx, b)) == ("unchanged", "unchanged")  # a 304; the same bytes
    assert site.not_modified["/a.html"] == 1
    assert pages(ctx.db, kb, site) == {"/a.html": "fetched", "/b.html": "fetched"}
    assert {f.id for f in repository.list_files(ctx.db, kb.id)} == {f.id for f in first.values()}

    site.pages["/a.html"] = site.pages["/a.html"].replace(b"two compost bays", b"three compost bays")
    site.pages["/a.html"] = site.pages["/a.html"].replace(b"<title>Compost Bays", b"<title>Compost Rules")
    assert refresh(ctx, a) == "fetched"
    files = repository.list_files(ctx.db, kb.id)
    [new] = [f for f in files if f.id not in {f.id for f in first.values()}]
    old = first[site.url("/a.html")]
    # The next version of the page's document: its name kept, the old one serving until it is done.
    assert (new.name, new.version, new.replaces, new.source_url) == (old.name, 2, old.id, old.source_url)
    _, views = crawls.get_request(ctx.db, kb.id, "r")
    assert {v.page.url: (v.page.file_id, v.page.title) for v in views}[site.url("/a.html")] == (new.id, "Compost Rules")


def test_the_sweep_sends_due_pages_and_pages_whose_message_was_lost(
    ctx: CrawlContext, kb: KnowledgeBase, site: WebSite
) -> None:
    settings = IngestionSettings(stale_queued_s=60)
    due, lost = crawls.create_request(
        ctx.db, "r", kb.id, 0, 5, [Seed(site.url("/a.html")), Seed(site.url("/b.html"))], refresh_s=60
    )
    assert process_page(ctx, due) == "fetched"
    assert sweep_pages(ctx.celery, ctx.db, settings, idle=True) == PageSweep(0, 0)  # nothing due, nothing old
    long_ago = utcnow() - timedelta(minutes=5)
    with ctx.db.write() as s:
        s.execute(update(UrlPage).where(UrlPage.id == due).values(next_refresh_at=long_ago))
        s.execute(update(UrlPage).where(UrlPage.id == lost).values(updated_at=long_ago))
    assert sweep_pages(ctx.celery, ctx.db, settings, idle=False) == PageSweep(1, 0)  # lost: may still be queued
    assert sweep_pages(ctx.celery, ctx.db, settings, idle=True) == PageSweep(0, 1)
    assert sweep_pages(ctx.celery, ctx.db, settings, idle=True) == PageSweep(0, 0)  # each sent once
    assert (process_page(ctx, due), process_page(ctx, lost)) == ("unchanged", "fetched")
