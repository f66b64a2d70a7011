"""Web pages through the real stack: a local site crawled by the worker, with robots, limits and the
guard, and refreshed on a schedule."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_cli_ingest import kb_cli
from tests.support.client import KBClient
from tests.support.stack import Stack
from tests.support.web_site import WebSite

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def site() -> Iterator[WebSite]:
    running = WebSite().start()
    yield running
    running.stop()


def submit(client: KBClient, kb: str, **body: Any) -> dict[str, Any]:
    r = client.http.post(f"/api/kbs/{kb}/urls", json=body)
    assert r.status_code == 202, r.text
    return dict(r.json())


def wait_done(client: KBClient, kb: str, request_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = client.http.get(f"/api/kbs/{kb}/urls/{request_id}")
        assert r.status_code == 200, r.text
        state = r.json()
        if state["state"] == "done":
            return dict(state)
        time.sleep(0.3)
    raise TimeoutError(f"request {request_id} not done: {state}")


def outcomes(state: dict[str, Any], site: WebSite) -> dict[str, str]:
    return {p["url"].removeprefix(site.base): p["status"] for p in state["pages"]}


def test_a_crawl_follows_same_host_links_to_its_depth_and_honours_robots(
    client: KBClient, kb: str, site: WebSite
) -> None:
    before = site.hits.copy()
    accepted = submit(client, kb, urls=[site.url("/index.html#top")], depth=1)
    assert [u["status"] for u in accepted["urls"]] == ["accepted"]
    state = wait_done(client, kb, accepted["request_id"])

    # Depth 1: the index and what it links to; /c.html is two steps away; /private.html is
    # disallowed by robots.txt; /old.html redirects to /b.html, whose bytes are already there.
    assert outcomes(state, site) == {
        "/index.html": "fetched",
        "/a.html": "fetched",
        "/b.html": "fetched",
        "/old.html": "duplicate",
    } or outcomes(state, site) == {
        "/index.html": "fetched",
        "/a.html": "fetched",
        "/b.html": "duplicate",
        "/old.html": "fetched",
    }, state
    assert site.hits["/private.html"] == before["/private.html"]
    assert site.hits["/c.html"] == before["/c.html"]
    assert site.hits["/robots.txt"] == before["/robots.txt"] + 1  # once per host per crawl
    assert all(p["file_status"] == "done" for p in state["pages"]), state

    files = {f["name"]: f for f in client.files(kb)}
    assert set(files) == {"Allotment Handbook.html", "Compost Bays.html", "Water Butts.html"}
    assert files["Compost Bays.html"]["source_url"] == site.url("/a.html")
    hits = client.search(kb, "compost bays of wooden pallets", top_k=1)
    assert hits[0]["file_name"] == "Compost Bays.html"
    assert hits[0]["source_url"] == site.url("/a.html")
    assert not [h for h in client.search(kb, "beehives committee consent", top_k=5) if "Beekeeping" in h["file_name"]]


def test_max_pages_bounds_the_whole_request(client: KBClient, kb: str, site: WebSite) -> None:
    accepted = submit(client, kb, urls=[site.url("/index.html"), site.url("/c.html")], depth=2, max_pages=3)
    state = wait_done(client, kb, accepted["request_id"])
    assert state["pages_taken"] == 3
    assert len(state["pages"]) == 3
    assert len(client.files(kb)) == len([p for p in state["pages"] if p["status"] == "fetched"]) == 3


def test_a_sitemap_lists_the_pages(client: KBClient, kb: str, site: WebSite) -> None:
    accepted = submit(client, kb, urls=[site.base], sitemap=True)
    assert accepted["urls"][0]["normalized"] == site.url("/sitemap.xml")
    state = wait_done(client, kb, accepted["request_id"])
    pages = outcomes(state, site)
    assert pages == {"/sitemap.xml": "fetched", "/a.html": "fetched", "/c.html": "fetched"}, state
    assert sorted(f["name"] for f in client.files(kb)) == ["Beekeeping Rules.html", "Compost Bays.html"]


def test_failed_pages_say_why_and_refused_urls_are_listed(client: KBClient, kb: str, site: WebSite) -> None:
    accepted = submit(client, kb, urls=[site.url("/private.html"), site.url("/missing.html"), "file:///etc/passwd"])
    assert [(u["status"], (u["error"] or {}).get("code")) for u in accepted["urls"]] == [
        ("accepted", None),
        ("accepted", None),
        ("refused", "scheme"),
    ]
    state = wait_done(client, kb, accepted["request_id"])
    assert {p["url"].removeprefix(site.base): (p["status"], p["error_code"]) for p in state["pages"]} == {
        "/private.html": ("failed", "robots"),
        "/missing.html": ("failed", "http_status"),
    }
    assert client.files(kb) == []


def test_with_allow_private_off_local_and_private_addresses_are_refused(
    client: KBClient, site: WebSite, second_api: Callable[..., str]
) -> None:
    name = "guarded"
    client.create_kb(name)
    port = site.base.rsplit(":", 1)[1]
    api = second_api(KB_URLS__ALLOW_PRIVATE="false", KB_URLS__MIN_REFRESH_S="60")
    with httpx.Client(base_url=api, timeout=30) as guarded:
        r = guarded.post(f"/api/kbs/{name}/urls", json={"urls": ["https://example.org/"], "refresh_s": 30})
        assert (r.status_code, r.json()["code"]) == (400, "invalid_input"), r.text
        assert "urls.min_refresh_s (60)" in r.json()["detail"]
        for url in (
            site.url("/index.html"),
            f"http://localhost:{port}/index.html",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:127.0.0.1]/",
        ):
            r = guarded.post(f"/api/kbs/{name}/urls", json={"urls": [url]})
            assert r.status_code == 422, (url, r.text)
            assert r.json()["code"] == "private_address", r.text
        r = guarded.post(f"/api/kbs/{name}/urls", json={"urls": ["http://10.0.0.1/", "gopher://127.0.0.1/"]})
        assert (r.status_code, r.json()["code"]) == (422, "url_refused")
    assert client.files(name) == []


def test_the_cli_fetches_a_page_and_waits_until_it_is_ingested(stack: Stack, site: WebSite) -> None:
    done = kb_cli(stack, "ingest", "--kb", "cli-web", "--create", "--page", site.url("/c.html"), "--refresh-s", "600")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "created knowledge base cli-web" in done.stdout
    assert "pages: 1 fetched | files: 1 done" in done.stdout
    assert "the server fetches these pages again every 600 s" in done.stdout
    assert "Beekeeping Rules" in done.stdout  # the summary table
    stack.client.http.delete("/api/kbs/cli-web")


def test_a_refresh_re_ingests_only_the_changed_page_as_a_new_version(client: KBClient, kb: str) -> None:
    site = WebSite().start()  # its own: this test edits a page
    try:
        a, b = site.url("/a.html"), site.url("/b.html")
        accepted = submit(client, kb, urls=[a, b], refresh_s=1)
        assert accepted["refresh_s"] == 1
        state = wait_done(client, kb, accepted["request_id"])
        assert state["refresh_s"] == 1
        assert all(p["status"] == "fetched" and p["next_refresh_at"] for p in state["pages"]), state
        before = {f["source_url"]: f for f in client.files(kb)}

        # Unchanged pages are asked with their ETag, answered 304, and nothing is ingested.
        wait_for(lambda: site.not_modified["/a.html"] >= 1 and site.not_modified["/b.html"] >= 1)
        assert {f["source_url"]: f["file_id"] for f in client.files(kb)} == {u: f["file_id"] for u, f in before.items()}

        revised = b"Each plot holder may keep one wormery of red tiger worms beside the shed."
        site.pages["/a.html"] = site.pages["/a.html"].replace(
            b"Each plot holder may keep two compost bays of wooden pallets beside the shed.", revised
        )
        changed_at = time.monotonic()
        bs_304s = site.not_modified["/b.html"]

        def swapped() -> list[dict[str, Any]] | None:
            files = client.files(kb)
            new = [f for f in files if f["source_url"] == a]
            done = len(new) == 1 and new[0]["version"] == 2 and new[0]["status"] == "done"
            return files if done else None

        files = wait_for(swapped)
        took = time.monotonic() - changed_at
        # One file per page: the page's next version replaced the old one; the other page is untouched.
        assert len(files) == 2
        new_a = next(f for f in files if f["source_url"] == a)
        assert (new_a["name"], new_a["replaces"]) == (before[a]["name"], before[a]["file_id"])
        assert next(f for f in files if f["source_url"] == b) == before[b]
        wait_for(lambda: site.not_modified["/b.html"] > bs_304s)  # still asked, still unchanged

        hits = client.search(kb, "wormery of red tiger worms", top_k=3)
        assert hits[0]["file_id"] == new_a["file_id"]
        assert "red tiger worms" in hits[0]["text"]
        assert not [h for h in client.search(kb, "compost bays of wooden pallets", top_k=5) if "pallets" in h["text"]]
        print(f"changed page re-ingested as version 2 in {took:.1f} s (refresh_s 1, sweep every 2 s)")

        r = client.http.patch(f"/api/kbs/{kb}/urls/{accepted['request_id']}", json={"refresh_s": 0})
        assert r.status_code == 200, r.text
        stopped = wait_done(client, kb, accepted["request_id"])  # a refresh under way ends first
        assert stopped["refresh_s"] is None
        assert [p["next_refresh_at"] for p in stopped["pages"]] == [None, None]
        seen = site.hits.copy()
        time.sleep(5)  # two sweeps and more
        assert (site.hits["/a.html"], site.hits["/b.html"]) == (seen["/a.html"], seen["/b.html"])
    finally:
        client.http.delete(f"/api/kbs/{kb}")  # its request stops refreshing with it
        site.stop()


def wait_for(ready: Callable[[], Any], timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError(f"not ready after {timeout_s} s")
