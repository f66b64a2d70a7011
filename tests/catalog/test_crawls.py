"""URL request state on SQLite and PostgreSQL: the page limit holds under racing workers, each URL once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from catalog import Database, KnowledgeBase, crawls, refreshes, repository
from catalog.crawls import Seed
from catalog.errors import NotFound
from catalog.models import UrlPage, UrlPageStatus, UrlRequest, utcnow

pytestmark = pytest.mark.unit


def _aware(value: datetime | None) -> datetime:
    assert value is not None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite gives them back naive


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
    crawls.keep_robots(db, "r", "http://a", "", 3600)
    crawls.keep_robots(db, "r", "http://a", "User-agent: *\nDisallow: /\n", 3600)  # the first one stays
    assert crawls.robots_body(db, "r", "http://a", 3600) == ""
    repository.delete_kb(db, kb.id)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(UrlPage)) == 0
        assert s.scalar(select(func.count()).select_from(UrlRequest)) == 0


def test_a_due_page_is_claimed_for_its_refresh_once_and_rescheduled_when_settled(
    db: Database, kb: KnowledgeBase
) -> None:
    [page_id] = crawls.create_request(db, "r", kb.id, 0, 5, [Seed("http://a/")], refresh_s=60)
    assert crawls.claim_page(db, page_id, stale_s=900) is not None
    assert crawls.finish_page(db, page_id, UrlPageStatus.DUPLICATE, file_id=None, sha256="s1", etag='"e1"')
    _, [view] = crawls.get_request(db, kb.id, "r")
    assert view.page.next_refresh_at is not None
    due_at = _aware(view.page.next_refresh_at)
    assert timedelta(seconds=59) < due_at - _aware(view.page.checked_at) <= timedelta(seconds=60)

    early = due_at - timedelta(seconds=1)
    assert refreshes.due_pages(db, early, 10) == []
    assert not refreshes.claim_due(db, page_id, early)
    assert refreshes.due_pages(db, due_at, 10) == [page_id]
    assert refreshes.claim_due(db, page_id, due_at)
    assert not refreshes.claim_due(db, page_id, due_at)  # one claim per due time: sent once
    assert refreshes.due_pages(db, due_at + timedelta(days=1), 10) == []

    claim = crawls.claim_page(db, page_id, stale_s=900)
    assert claim is not None
    assert (claim.sha256, claim.etag) == ("s1", '"e1"')  # what the refresh asks the site about
    assert crawls.keep_page(db, page_id, etag=None, last_modified=None)  # a 304
    _, [view] = crawls.get_request(db, kb.id, "r")
    assert (view.page.status, view.page.etag) == ("duplicate", '"e1"')  # as it ended last time
    assert view.page.next_refresh_at is not None
    assert _aware(view.page.next_refresh_at) > due_at


def test_a_failed_refresh_keeps_what_the_page_held(db: Database, kb: KnowledgeBase) -> None:
    [page_id] = crawls.create_request(db, "r", kb.id, 0, 5, [Seed("http://a/")], refresh_s=60)
    crawls.claim_page(db, page_id, stale_s=900)
    crawls.finish_page(db, page_id, UrlPageStatus.FETCHED, title="A", sha256="s1", etag='"e1"')
    assert refreshes.claim_due(db, page_id, utcnow() + timedelta(seconds=61))
    crawls.claim_page(db, page_id, stale_s=900)
    assert crawls.fail_page(db, page_id, "timeout", "slow")
    _, [view] = crawls.get_request(db, kb.id, "r")
    assert (view.page.status, view.page.title, view.page.sha256, view.page.etag) == ("failed", "A", "s1", '"e1"')
    assert view.page.next_refresh_at is not None  # tried again at the next refresh
    assert refreshes.claim_due(db, page_id, utcnow() + timedelta(seconds=61))
    crawls.claim_page(db, page_id, stale_s=900)
    assert crawls.keep_page(db, page_id, etag=None, last_modified=None)
    _, [view] = crawls.get_request(db, kb.id, "r")
    assert (view.page.status, view.page.error_code, view.page.error) == ("fetched", None, None)


def test_pages_whose_message_was_lost_are_found_and_touched_once_per_grace(db: Database, kb: KnowledgeBase) -> None:
    waiting, taken, done = crawls.create_request(
        db, "r", kb.id, 0, 5, [Seed("http://a/1"), Seed("http://a/2"), Seed("http://a/3")]
    )
    crawls.claim_page(db, taken, stale_s=900)
    crawls.claim_page(db, done, stale_s=900)
    crawls.finish_page(db, done, UrlPageStatus.FETCHED)
    now = utcnow()
    assert refreshes.stuck_pages(db, now, 60, 900, 10) == []
    later = now + timedelta(seconds=120)
    assert refreshes.stuck_pages(db, later, 60, 900, 10) == [waiting]
    assert refreshes.stuck_pages(db, later, None, 900, 10) == []  # the queue still holds messages
    assert refreshes.touch_stuck(db, waiting, later, 60, 900)
    assert not refreshes.touch_stuck(db, waiting, later, 60, 900)  # sent once per grace
    dead = now + timedelta(seconds=1000)  # the claim of a worker that died
    assert refreshes.stuck_pages(db, dead, None, 900, 10) == [taken]
    assert refreshes.touch_stuck(db, taken, dead, None, 900)
    assert crawls.claim_page(db, taken, stale_s=900) is not None  # pending again: the re-sent task takes it


def test_refresh_can_be_changed_or_stopped_for_a_request(db: Database, kb: KnowledgeBase) -> None:
    settled, busy = crawls.create_request(db, "r", kb.id, 0, 5, [Seed("http://a/1"), Seed("http://a/2")])
    for page_id in (settled, busy):
        crawls.claim_page(db, page_id, stale_s=900)
    crawls.finish_page(db, settled, UrlPageStatus.FETCHED)
    crawls.set_refresh(db, kb.id, "r", 60)
    crawls.finish_page(db, busy, UrlPageStatus.FETCHED)  # settled after the change: scheduled too
    request, views = crawls.get_request(db, kb.id, "r")
    assert request.refresh_s == 60
    assert all(v.page.next_refresh_at is not None for v in views)
    crawls.set_refresh(db, kb.id, "r", None)
    request, views = crawls.get_request(db, kb.id, "r")
    assert (request.refresh_s, [v.page.next_refresh_at for v in views]) == (None, [None, None])
    with pytest.raises(NotFound):
        crawls.set_refresh(db, kb.id, "other", 60)


def test_a_kept_robots_txt_is_read_again_once_it_is_old(db: Database, kb: KnowledgeBase) -> None:
    crawls.create_request(db, "r", kb.id, 0, 5, [Seed("http://a/")])
    crawls.keep_robots(db, "r", "http://a", "old", 3600)
    assert crawls.robots_body(db, "r", "http://a", 3600) == "old"
    assert crawls.robots_body(db, "r", "http://a", 0) is None  # past its age: to be read again
    crawls.keep_robots(db, "r", "http://a", "new", 0)
    assert crawls.robots_body(db, "r", "http://a", 3600) == "new"
