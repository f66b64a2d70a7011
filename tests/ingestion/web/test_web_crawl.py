"""One page's task, run twice or rerun after a crash: nothing fetched into the KB twice, no link added twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery import Celery
from sqlalchemy import update

from catalog import Database, KnowledgeBase, crawls, repository
from catalog.crawls import Seed
from catalog.models import UrlPage, utcnow
from ingestion.uploads import UploadStore
from ingestion.web.crawl import CrawlContext, process_page
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
