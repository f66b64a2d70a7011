"""What a page says about other pages: title, normalised links, a sitemap's URLs, the document name."""

from __future__ import annotations

import pytest

from ingestion.web.crawl import document_name
from ingestion.web.errors import UrlRefused
from ingestion.web.links import parse_page, sitemap_for, sitemap_urls

pytestmark = pytest.mark.unit


def test_links_are_absolute_without_fragments_and_listed_once() -> None:
    html = """<html><head><title>  The
      Handbook </title></head><body>
      <a href="b.html#top">b</a> <a href="/b.html">again</a> <a href="HTTP://Example.ORG:80/c?x=1#y">c</a>
      <a href="mailto:x@example.org">mail</a> <a href="javascript:void(0)">js</a> <a href="/d" rel="nofollow">d</a>
      <a href="//other.example.net/e">e</a> <a>no href</a></body></html>"""
    title, links = parse_page(html, "https://example.org/docs/a.html")
    assert title == "The Handbook"
    assert links == [
        "https://example.org/docs/b.html",
        "https://example.org/b.html",
        "http://example.org/c?x=1",
        "https://other.example.net/e",
    ]


def test_a_base_element_sets_where_relative_links_point() -> None:
    _, links = parse_page('<base href="https://example.org/v2/"><a href="x.html">x</a>', "https://example.org/a")
    assert links == ["https://example.org/v2/x.html"]


def test_sitemaps_and_sitemap_indexes() -> None:
    urlset = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc> https://example.org/a </loc></url><url><loc>https://example.org/b</loc></url></urlset>"""
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://example.org/s1.xml</loc></sitemap></sitemapindex>"""
    assert sitemap_urls(urlset) == (["https://example.org/a", "https://example.org/b"], [])
    assert sitemap_urls(index) == ([], ["https://example.org/s1.xml"])
    for bad in (b"<html>not a sitemap", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>'):
        with pytest.raises(UrlRefused) as refused:
            sitemap_urls(bad)
        assert refused.value.code == "invalid_sitemap"
    assert sitemap_for("https://example.org/docs/") == "https://example.org/sitemap.xml"
    assert sitemap_for("https://example.org/maps/pages.xml") == "https://example.org/maps/pages.xml"


def test_a_document_is_named_by_its_title_or_its_url() -> None:
    assert document_name("Water Butts", "https://example.org/b", ".html") == "Water Butts.html"
    assert document_name("Guides / Setup", "https://example.org/b", ".html") == "Guides - Setup.html"
    assert document_name(None, "https://example.org/files/report.pdf", ".pdf") == "report.pdf"
    assert document_name(None, "https://example.org/", ".html") == "example.org.html"
