"""robots.txt: read once per host per request (kept in the catalog), its rules applied to our agent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalog import Database, KnowledgeBase, crawls
from catalog.crawls import Seed
from catalog.models import UrlRequest
from ingestion.uploads import UploadStore
from ingestion.web.errors import UrlRefused
from ingestion.web.fetch import PageFetcher
from ingestion.web.robots import RobotsRules
from ingestion.web.settings import UrlSettings
from tests.support.web_site import ROBOTS, WebSite

pytestmark = pytest.mark.unit


@pytest.fixture
def fetcher(uploads: UploadStore) -> Iterator[PageFetcher]:
    with PageFetcher(UrlSettings(allow_private=True, user_agent="kb-server/9.9"), uploads) as f:
        yield f


def rules(db: Database, kb: KnowledgeBase, fetcher: PageFetcher, request_id: str = "r") -> RobotsRules:
    with db.read() as s:
        known = s.get(UrlRequest, request_id) is not None
    if not known:
        crawls.create_request(db, request_id, kb.id, 0, 5, [Seed("http://x/")])
    return RobotsRules(db, request_id, fetcher)


def test_rules_are_read_once_per_host_per_request_and_apply_to_our_agent(
    db: Database, kb: KnowledgeBase, fetcher: PageFetcher, site: WebSite
) -> None:
    site.robots = (200, ROBOTS + "\nUser-agent: kb-server\nDisallow: /a.html\n")
    first = rules(db, kb, fetcher)
    assert first.allowed(site.url("/b.html"))
    with pytest.raises(UrlRefused) as refused:
        first.check(site.url("/a.html"))  # our agent's own group
    assert refused.value.code == "robots"
    assert rules(db, kb, fetcher).allowed(site.url("/private.html"))  # * does not apply when a group names us
    assert site.hits["/robots.txt"] == 1  # another worker of the request reads the kept copy
    rules(db, kb, fetcher, "r2").allowed(site.url("/b.html"))
    assert site.hits["/robots.txt"] == 2  # a new request reads it again


def test_a_missing_robots_txt_allows_and_a_failing_one_forbids_with_the_reason(
    db: Database, kb: KnowledgeBase, fetcher: PageFetcher, site: WebSite
) -> None:
    site.robots = (404, "no")
    assert rules(db, kb, fetcher, "missing").allowed(site.url("/a.html"))
    site.robots = (503, "busy")
    with pytest.raises(UrlRefused) as refused:
        rules(db, kb, fetcher, "failing").check(site.url("/a.html"))
    assert refused.value.code == "robots"
    assert "robots.txt answered HTTP 503, taken as disallow all" in refused.value.detail
