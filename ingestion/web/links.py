"""What a fetched page says about other pages: its title, its same-host links, a sitemap's URLs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from ingestion.web.errors import UrlRefused
from ingestion.web.guard import normalise_url

MAX_TITLE = 200


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.hrefs: list[str] = []
        self.base: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "title":
            self._in_title = True
        elif tag == "a" and values.get("href"):
            rel = (values.get("rel") or "").lower().split()
            if "nofollow" not in rel:
                self.hrefs.append(values["href"] or "")
        elif tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)


def parse_page(html: str, page_url: str) -> tuple[str | None, list[str]]:
    """(the page's `<title>`, its links as absolute URLs without fragments, in order, once each)."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    title = " ".join("".join(parser.title_parts).split())[:MAX_TITLE] or None
    base = urljoin(page_url, parser.base) if parser.base else page_url
    links: dict[str, None] = {}
    for href in parser.hrefs:
        absolute = urljoin(base, href.strip())
        try:
            links[canonical(absolute)] = None
        except UrlRefused:
            continue  # mailto:, javascript:, malformed
    return title, list(links)


def canonical(url: str) -> str:
    """The form two links to one page share: normalised scheme, host and port; no fragment.

    Raises:
        UrlRefused: not an http(s) URL, or malformed.
    """
    parts, _, _ = normalise_url(url)
    return urlunsplit(parts)


def name_from_url(url: str) -> str:
    """A document name when a page has no title: the last path part, else the host."""
    parts = urlsplit(url)
    last = PurePosixPath(unquote(parts.path)).name
    return last or parts.hostname or "page"


def sitemap_for(url: str) -> str:
    """The sitemap a request names: the URL itself if it is one (`.xml`), else the host's /sitemap.xml."""
    parts = urlsplit(url)
    if parts.path.lower().endswith(".xml"):
        return url
    return urlunsplit((parts.scheme, parts.netloc, "/sitemap.xml", "", ""))


def sitemap_urls(xml: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) of a sitemap or sitemap index.

    Raises:
        UrlRefused: `invalid_sitemap` when it is not sitemap XML.
    """
    if b"<!ENTITY" in xml or b"<!DOCTYPE" in xml:  # as for documents: no entity declarations at all
        raise UrlRefused("invalid_sitemap", "the sitemap declares XML entities or a DOCTYPE")
    try:
        root = ET.fromstring(xml)  # size-capped by the fetch
    except ET.ParseError as exc:
        raise UrlRefused("invalid_sitemap", f"the sitemap is not valid XML: {exc}") from exc
    pages: list[str] = []
    nested: list[str] = []
    for element in root.iter():
        if _local(element.tag) != "loc" or not (element.text or "").strip():
            continue
        parent_is_index = _local(root.tag) == "sitemapindex"
        (nested if parent_is_index else pages).append(element.text.strip())  # type: ignore[union-attr]
    return pages, nested


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
