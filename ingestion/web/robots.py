"""robots.txt, read once per host per request (kept in the catalog, so every worker shares it), and
again when the kept copy is a day old, as RFC 9309 asks (a refreshing request lives for months).

A host without one (4xx) allows everything; one whose robots.txt answers 5xx is taken as
"disallow all", as RFC 9309 says, so an overloaded site is not crawled on a guess. A host that
cannot be reached at all fails the page with that reason (`unreachable`, `timeout`, ...).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from catalog import crawls
from catalog.database import Database
from ingestion.web.errors import UrlRefused
from ingestion.web.fetch import PageFetcher

log = logging.getLogger(__name__)

MAX_ROBOTS_BYTES = 512 * 1024
MAX_AGE_S = 24 * 3600.0
_UNREADABLE = "# kb-server: "  # the first line of a synthetic "disallow all" says why


class RobotsRules:
    def __init__(self, db: Database, request_id: str, fetcher: PageFetcher) -> None:
        self._db, self._request_id, self._fetcher = db, request_id, fetcher
        self._parsed: dict[str, tuple[Protego, str]] = {}

    def allowed(self, url: str) -> bool:
        """Raises: UrlRefused when the host's robots.txt cannot be fetched at all."""
        return bool(self._rules(url)[0].can_fetch(url, self._fetcher.user_agent))

    def check(self, url: str) -> None:
        """Raises: UrlRefused `robots` when the host's robots.txt disallows `url` for our agent."""
        if not self.allowed(url):
            why = self._rules(url)[1] or f"disallowed by the site's robots.txt for {self._fetcher.user_agent}"
            raise UrlRefused("robots", f"{url}: {why}")

    def _rules(self, url: str) -> tuple[Protego, str]:
        origin = _origin(url)
        if origin not in self._parsed:
            body = self._body(origin)
            why = body.splitlines()[0].removeprefix(_UNREADABLE) if body.startswith(_UNREADABLE) else ""
            self._parsed[origin] = (Protego.parse(body), why)
        return self._parsed[origin]

    def _body(self, origin: str) -> str:
        body = crawls.robots_body(self._db, self._request_id, origin, MAX_AGE_S)
        if body is None:
            body = self._read(origin)
            crawls.keep_robots(self._db, self._request_id, origin, body, MAX_AGE_S)
            body = crawls.robots_body(self._db, self._request_id, origin, MAX_AGE_S) or body
        return body

    def _read(self, origin: str) -> str:
        try:
            status, raw = self._fetcher.fetch_small(f"{origin}/robots.txt", MAX_ROBOTS_BYTES)
        except UrlRefused as exc:
            if exc.code == "too_large":
                return ""  # RFC 9309: parse at least 500 KiB; what is past it is ignored (here: all)
            raise
        if 400 <= status < 500:
            return ""
        if status >= 500 or status < 200:
            log.info("robots.txt of %s answered HTTP %s: nothing fetched there", origin, status)
            why = f"its robots.txt answered HTTP {status}, taken as disallow all"
            return f"{_UNREADABLE}{why}\nUser-agent: *\nDisallow: /\n"
        return raw.decode("utf-8", errors="replace")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
