"""URL request state on SQLite and PostgreSQL: the page limit holds under racing workers, each URL once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from catalog import Database, KnowledgeBase, crawls, repository
from catalog.crawls import Seed
from catalog.models import UrlPage, UrlPageStatus, UrlRequest

pytestmark = pytest.mark.unit


def test_seeds_take_slots_once_each_and_sitemaps_take_none(db: Database, kb: KnowledgeBase) -> None:
    seeds = [Seed("http://a/1"), Seed("http://a/1"), Seed("http://a/sitemap.xml", "sitemap"), Seed("http://a/2")]
    ids = crawls.create_request(db, "r", kb.id, 1, 1, seeds)
    request, views = crawls.get_request(db, kb.id, "r")
    assert [(v.page.url, v.page.kind) for v in views] == [("http://a/1", "page"), ("http://a/sitemap.xml", "sitemap")]
    assert (request.pages, len(ids)) == (1, 2)


def test_racing_workers_never_exceed_max_pages_nor_add_a_url_twice(db: Database, kb: KnowledgeBase) -> None:
    crawls.create_request(db, "r", kb.id, 2, 4, [Seed("http://a/")])
    barrier = threading.Barrier(6)
    added: list[int | None] = []

    def discover(worker: int) -> None:
        barrier.wait()
        for n in range(6):  # every worker finds the same six links
            added.append(crawls.add_page(db, "r", f"http://a/{(n + worker) % 6}", 1))

    threads = [threading.Thread(target=discover, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with db.read() as s:
        pages = s.scalar(select(UrlRequest.pages).where(UrlRequest.id == "r"))
        urls = list(s.scalars(select(UrlPage.url).where(UrlPage.request_id == "r")))
    assert pages == 4
    assert len(urls) == len(set(urls)) == 4
    with db.read() as s:
        ids = set(s.scalars(select(UrlPage.id).where(UrlPage.request_id == "r", UrlPage.depth == 1)))
    assert {i for i in added if i is not None} <= ids


def test_a_page_is_claimed_once_finished_once_and_can_be_given_back(db: Database, kb: KnowledgeBase) -> None:
    [page_id] = crawls.create_request(db, "r", kb.id, 0, 5, [Seed("http://a/")])
    claim = crawls.claim_page(db, page_id, stale_s=900)
    assert claim is not None
    assert (claim.url, claim.kb_id, claim.max_depth) == ("http://a/", kb.id, 0)
    assert crawls.claim_page(db, page_id, stale_s=900) is None  # a second delivery of the task
    assert crawls.claim_page(db, page_id, stale_s=0) is not None  # a dead worker's claim, taken over
    crawls.release_page(db, page_id)
    assert crawls.claim_page(db, page_id, stale_s=900) is not None
    assert crawls.fail_page(db, page_id, "timeout", "slow")
    assert not crawls.finish_page(db, page_id, UrlPageStatus.FETCHED)
    assert crawls.claim_page(db, page_id, stale_s=0) is None
    _, [view] = crawls.get_request(db, kb.id, "r")
    assert (view.page.status, view.page.error_code) == ("failed", "timeout")


def test_a_known_pending_url_is_returned_again_for_a_retried_crawl(db: Database, kb: KnowledgeBase) -> None:
    crawls.create_request(db, "r", kb.id, 1, 5, [Seed("http://a/")])
    first = crawls.add_page(db, "r", "http://a/x", 1)
    assert crawls.add_page(db, "r", "http://a/x", 1) == first
    crawls.claim_page(db, first or 0, stale_s=900)
    assert crawls.add_page(db, "r", "http://a/x", 1) is None
    _, views = crawls.get_request(db, kb.id, "r")
    assert len(views) == 2


def test_deleting_the_kb_deletes_its_requests(db: Database, kb: KnowledgeBase) -> None:
    crawls.create_request(db, "r", kb.id, 0, 5, [Seed("http://a/")])
    crawls.keep_robots(db, "r", "http://a", "")
    crawls.keep_robots(db, "r", "http://a", "User-agent: *\nDisallow: /\n")  # the first one stays
    assert crawls.robots_body(db, "r", "http://a") == ""
    repository.delete_kb(db, kb.id)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(UrlPage)) == 0
        assert s.scalar(select(func.count()).select_from(UrlRequest)) == 0
