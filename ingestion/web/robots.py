"""robots.txt, read once per host per request (kept in the catalog, so every worker shares it).

A host without one (4xx) allows everything; one that cannot be read (5xx, network fault) is taken
as "disallow all", as RFC 9309 says, so an overloaded site is not crawled on a guess.
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
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


class RobotsRules:
    def __init__(self, db: Database, request_id: str, fetcher: PageFetcher) -> None:
        self._db, self._request_id, self._fetcher = db, request_id, fetcher
        self._parsed: dict[str, Protego] = {}

    def allowed(self, url: str) -> bool:
        origin = _origin(url)
        rules = self._parsed.get(origin)
        if rules is None:
            rules = self._parsed[origin] = Protego.parse(self._body(origin))
        return bool(rules.can_fetch(url, self._fetcher.user_agent))

    def check(self, url: str) -> None:
        """Raises: UrlRefused `robots` when the host's robots.txt disallows `url` for our agent."""
        if not self.allowed(url):
            raise UrlRefused("robots", f"{url}: disallowed by the site's robots.txt for {self._fetcher.user_agent}")

    def _body(self, origin: str) -> str:
        body = crawls.robots_body(self._db, self._request_id, origin)
        if body is None:
            body = self._read(origin)
            crawls.keep_robots(self._db, self._request_id, origin, body)
            body = crawls.robots_body(self._db, self._request_id, origin) or body
        return body

    def _read(self, origin: str) -> str:
        try:
            status, raw = self._fetcher.fetch_small(f"{origin}/robots.txt", MAX_ROBOTS_BYTES)
        except UrlRefused as exc:
            if exc.code == "too_large":
                return ""  # RFC 9309: parse at least 500 KiB; what is past it is ignored (here: all)
            log.info("robots.txt of %s unreadable (%s): nothing fetched there", origin, exc.detail)
            return DISALLOW_ALL
        if 400 <= status < 500:
            return ""
        if status >= 500 or status < 200:
            return DISALLOW_ALL
        return raw.decode("utf-8", errors="replace")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
