"""Fetching through the guard: real sockets to a local site, limits, redirects checked hop by hop."""

from __future__ import annotations

import httpx
import pytest

from ingestion.uploads import UploadStore
from ingestion.web.errors import UrlRefused
from ingestion.web.fetch import FetchedPage, NotModified, PageFetcher
from ingestion.web.guard import system_resolver
from ingestion.web.settings import UrlSettings
from tests.support.web_site import PAGES, WebSite

pytestmark = pytest.mark.unit

PUBLIC = "93.184.216.34"


def fetcher(uploads: UploadStore, **settings: object) -> PageFetcher:
    return PageFetcher(UrlSettings(allow_private=True, **settings), uploads)  # type: ignore[arg-type]


def test_a_page_is_staged_and_sent_with_its_host_name(site: WebSite, uploads: UploadStore) -> None:
    port = site.base.rsplit(":", 1)[1]
    with fetcher(uploads) as f:
        page = f.fetch(f"http://localhost:{port}/a.html#soil")
    assert isinstance(page, FetchedPage)
    assert page.blob.tmp_path.read_bytes() == PAGES["/a.html"]
    assert (page.url, page.content_type, page.charset) == (f"http://localhost:{port}/a.html", "text/html", "utf-8")
    # Connected to the checked address, with the name in the Host header.
    assert site.hosts[-1] == f"localhost:{port}"
    assert any(agent.startswith("kb-server") for agent in site.agents)


def test_a_conditional_get_of_an_unchanged_page_is_not_modified(site: WebSite, uploads: UploadStore) -> None:
    with fetcher(uploads) as f:
        first = f.fetch(site.url("/a.html"))
        assert isinstance(first, FetchedPage)
        assert first.etag
        assert first.last_modified
        uploads.discard(first.blob)
        again = f.fetch(site.url("/a.html"), etag=first.etag, last_modified=first.last_modified)
        assert again == NotModified(site.url("/a.html"), first.etag, None)  # a 304 need not repeat Last-Modified
        site.pages["/a.html"] = PAGES["/a.html"].replace(b"two compost bays", b"three compost bays")
        changed = f.fetch(site.url("/a.html"), etag=first.etag, last_modified=first.last_modified)
    assert isinstance(changed, FetchedPage)
    assert b"three compost bays" in changed.blob.tmp_path.read_bytes()
    assert changed.etag != first.etag
    assert site.not_modified["/a.html"] == 1


def test_redirects_are_followed_and_each_hop_is_checked(site: WebSite, uploads: UploadStore) -> None:
    seen: list[str] = []
    with fetcher(uploads) as f:
        page = f.fetch(site.url("/old.html"), seen.append)
    assert page.url == site.url("/b.html")
    assert seen == [site.url("/old.html"), site.url("/b.html")]
    with fetcher(uploads, max_redirects=3) as f, pytest.raises(UrlRefused) as refused:
        f.fetch(site.url("/loop.html"))
    assert refused.value.code == "too_many_redirects"


@pytest.mark.parametrize("path", ["/big.html", "/big-chunked.html"])
def test_a_page_past_max_bytes_is_refused_and_nothing_is_left(site: WebSite, uploads: UploadStore, path: str) -> None:
    with fetcher(uploads, max_bytes=16384) as f, pytest.raises(UrlRefused) as refused:
        f.fetch(site.url(path))
    assert refused.value.code == "too_large"
    assert list(uploads.tmp_dir.iterdir()) == []


def test_slow_answers_and_errors_are_refused_with_their_reason(site: WebSite, uploads: UploadStore) -> None:
    with fetcher(uploads, read_timeout_s=0.3) as f:
        with pytest.raises(UrlRefused) as slow:
            f.fetch(site.url("/slow.html"))
        with pytest.raises(UrlRefused) as missing:
            f.fetch(site.url("/missing.html"))
    assert (slow.value.code, missing.value.code) == ("timeout", "http_status")
    assert "404" in missing.value.detail


def test_real_loopback_is_refused_before_any_connection(site: WebSite, uploads: UploadStore) -> None:
    before = sum(site.hits.values())
    port = site.base.rsplit(":", 1)[1]
    with PageFetcher(UrlSettings(), uploads) as f:
        for url in (site.url("/a.html"), f"http://localhost:{port}/a.html"):
            with pytest.raises(UrlRefused) as refused:
                f.fetch(url)
            assert refused.value.code == "private_address"
    assert sum(site.hits.values()) == before


def _public_then_real(host: str, port: int) -> list[str]:
    # public.test stands for a public site (none can be served here); every other name is resolved for real.
    return [PUBLIC] if host == "public.test" else system_resolver(host, port)


@pytest.mark.parametrize(
    ("location", "resolved"),
    [
        ("http://127.0.0.1:6379/", "127.0.0.1 resolves to 127.0.0.1"),
        ("http://localhost/admin", "localhost resolves to"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://10.0.0.1/", "a private address"),
    ],
)
def test_a_redirect_to_a_private_address_is_refused_unsent(uploads: UploadStore, location: str, resolved: str) -> None:
    # The first hop answers from a transport; the refused second hop must never be sent.
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(302, headers={"Location": location})

    transport = httpx.MockTransport(answer)
    with (
        PageFetcher(UrlSettings(), uploads, resolver=_public_then_real, transport=transport) as f,
        pytest.raises(UrlRefused) as refused,
    ):
        f.fetch("http://public.test/start")
    assert refused.value.code == "private_address"
    assert resolved in refused.value.detail
    assert [str(r.url) for r in sent] == [f"http://{PUBLIC}/start"]
    assert sent[0].headers["host"] == "public.test"


def test_the_checked_address_is_the_one_connected_to(uploads: UploadStore) -> None:
    # DNS rebinding: a second resolution would give loopback; the fetch never resolves again.
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<p>hi</p>")

    with PageFetcher(
        UrlSettings(), uploads, resolver=lambda h, p: next(answers), transport=httpx.MockTransport(answer)
    ) as f:
        page = f.fetch("https://rebind.test/x")
    assert sent[0].url.host == PUBLIC
    assert sent[0].extensions["sni_hostname"] == "rebind.test"
    assert page.url == "https://rebind.test/x"
