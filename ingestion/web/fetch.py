"""Fetching one URL safely: every hop through the guard, connect to the checked address, cap the bytes.

Redirects are followed here, not by httpx, so that each hop's host is resolved and checked (and
asked of robots.txt) before anything is sent to it. The answer streams into the upload store's
staging area and is abandoned past `urls.max_bytes` or `urls.fetch_deadline_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urljoin

import httpx

from ingestion.uploads import StagedBlob, UploadStore
from ingestion.web.errors import UrlRefused
from ingestion.web.guard import Resolver, Target, check_url, system_resolver
from ingestion.web.settings import UrlSettings

HopCheck = Callable[[str], None]


def default_user_agent() -> str:
    try:
        return f"kb-server/{version('kb-server')}"
    except PackageNotFoundError:
        return "kb-server"


@dataclass(frozen=True)
class FetchedPage:
    url: str  # after redirects
    content_type: str  # lower case, without parameters
    charset: str | None
    blob: StagedBlob
    etag: str | None = None  # kept for a later refresh (conditional GET)
    last_modified: str | None = None


@dataclass(frozen=True)
class NotModified:
    """A conditional GET answered 304: the page is as it was when these validators were served."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


class PageFetcher:
    """Fetches URLs through the guard. `transport` and `resolver` are injected by tests only."""

    def __init__(
        self,
        settings: UrlSettings,
        uploads: UploadStore,
        *,
        resolver: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.user_agent = settings.user_agent or default_user_agent()
        self._uploads = uploads
        self._resolver = resolver
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would connect to names we never checked
            transport=transport,
            headers={"User-Agent": self.user_agent},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PageFetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        check_hop: HopCheck | None = None,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchedPage | NotModified:
        """GET `url` into the staging area; the caller commits or discards the blob.

        `check_hop(url)` is called for the first URL and every redirect target (robots.txt). With
        the validators a page was last served with, the GET is conditional (If-None-Match,
        If-Modified-Since) and a 304 comes back as `NotModified`.

        Raises:
            UrlRefused: any guard refusal of any hop, `robots` (from `check_hop`), `http_status`,
                `too_large`, `timeout`, `unreachable`, `too_many_redirects`.
        """
        current = url
        for _ in range(self.settings.max_redirects + 1):
            target = check_url(current, allow_private=self.settings.allow_private, resolver=self._resolver)
            if check_hop is not None:
                check_hop(target.url)
            with self._guarded(target), self._send(target, _conditions(etag, last_modified)) as response:
                if response.status_code == 304 and (etag or last_modified):
                    return NotModified(target.url, response.headers.get("etag"), response.headers.get("last-modified"))
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(target.url, response.headers["location"])
                    continue
                self._check_status(target, response)
                blob = self._stage(target, response)
                return FetchedPage(
                    url=target.url,
                    content_type=_content_type(response),
                    charset=response.charset_encoding,
                    blob=blob,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
        raise UrlRefused("too_many_redirects", f"{url}: more than {self.settings.max_redirects} redirects")

    def fetch_small(self, url: str, max_bytes: int) -> tuple[int, bytes]:
        """(status, body) of a small resource (robots.txt, a sitemap), following redirects the same way.

        Raises:
            UrlRefused: as `fetch`, but any HTTP status is returned rather than refused.
        """
        current = url
        for _ in range(self.settings.max_redirects + 1):
            target = check_url(current, allow_private=self.settings.allow_private, resolver=self._resolver)
            with self._guarded(target), self._send(target) as response:
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(target.url, response.headers["location"])
                    continue
                return response.status_code, b"".join(self._capped(target, response, max_bytes))
        raise UrlRefused("too_many_redirects", f"{url}: more than {self.settings.max_redirects} redirects")

    def _send(self, target: Target, headers: dict[str, str] | None = None) -> AbstractContextManager[httpx.Response]:
        # The request goes to the checked address; Host and (for https) SNI carry the name, so
        # virtual hosts and certificate verification still see it.
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        return self._client.stream(
            "GET", target.address_url, headers={**(headers or {}), "Host": target.host_header}, extensions=extensions
        )

    @staticmethod
    def _check_status(target: Target, response: httpx.Response) -> None:
        if response.status_code >= 400 or response.status_code < 200 or response.status_code == 204:
            raise UrlRefused("http_status", f"{target.url} answered HTTP {response.status_code}")

    def _stage(self, target: Target, response: httpx.Response) -> StagedBlob:
        limit = self.settings.max_bytes
        try:
            return self._uploads.stage(self._capped(target, response, limit), max_bytes=limit)
        except OverflowError as exc:
            raise UrlRefused("too_large", f"{target.url} is larger than urls.max_bytes ({limit} bytes)") from exc

    def _capped(self, target: Target, response: httpx.Response, limit: int) -> Iterator[bytes]:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise UrlRefused("too_large", f"{target.url} declares {declared} bytes, more than {limit}")
        deadline = time.monotonic() + self.settings.fetch_deadline_s
        received = 0
        for block in response.iter_bytes():
            received += len(block)
            if received > limit:
                raise UrlRefused("too_large", f"{target.url} is larger than {limit} bytes")
            if time.monotonic() > deadline:
                raise UrlRefused("timeout", f"{target.url} took longer than {self.settings.fetch_deadline_s} s")
            yield block

    @staticmethod
    @contextmanager
    def _guarded(target: Target) -> Iterator[None]:
        """Network faults as `UrlRefused` (`timeout`, `unreachable`)."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise UrlRefused("timeout", f"{target.url}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise UrlRefused("unreachable", f"{target.url}: {type(exc).__name__}: {exc}") from exc


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _conditions(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers
