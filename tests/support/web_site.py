"""A small web site on 127.0.0.1 for the web-page tests: stdlib http.server in a thread.

Pages link to each other; robots.txt disallows /private.html; /sitemap.xml lists two pages;
/old.html redirects to /b.html; /big.html is 64 KiB; /slow.html waits before answering. Every
request's path is recorded, so tests can tell what was (and was not) fetched. Pages are served
with an ETag (of their bytes) and a Last-Modified, and a matching If-None-Match gets a 304;
`pages` may be edited (a page revised), and paths in `no_validators` are served without either.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROBOTS = "User-agent: *\nDisallow: /private.html\n"
LAST_MODIFIED = "Thu, 03 Dec 2026 12:00:00 GMT"


def _page(title: str, body: str, links: list[str]) -> bytes:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f"<p>{body}</p><ul>{anchors}</ul></body></html>"
    ).encode()


PAGES: dict[str, bytes] = {
    "/index.html": _page(
        "Allotment Handbook",
        "Welcome to the allotment handbook. Plots are let by the year.",
        [
            "/a.html",
            "/a.html#soil",
            "b.html",
            "/private.html",
            "/old.html",
            "mailto:x@example.org",
            "http://elsewhere.invalid/",
        ],
    ),
    "/a.html": _page(
        "Compost Bays",
        "Each plot holder may keep two compost bays of wooden pallets beside the shed.",
        ["/c.html", "/index.html"],
    ),
    "/b.html": _page(
        "Water Butts",
        "Rainwater is collected in green water butts; hosepipes are forbidden in July.",
        ["/index.html"],
    ),
    "/c.html": _page(
        "Beekeeping Rules",
        "Beehives need the committee's written consent and a fenced corner of the plot.",
        ["/a.html"],
    ),
    "/private.html": _page("Committee Minutes", "Secret minutes about the treasurer's marrows.", []),
}


class WebSite:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.hosts: list[str] = []  # Host headers received
        self.agents: set[str] = set()
        self.slow_s = 2.0
        self.robots = (200, ROBOTS)  # what /robots.txt answers
        self.pages = dict(PAGES)
        self.no_validators: set[str] = set()
        self.not_modified: Counter[str] = Counter()  # 304s answered, per path
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> WebSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sitemap(self) -> bytes:
        locs = "".join(f"<url><loc>{self.url(p)}</loc></url>" for p in ("/a.html", "/c.html", "/private.html"))
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                site.hits[path] += 1
                site.hosts.append(self.headers.get("Host", ""))
                site.agents.add(self.headers.get("User-Agent", ""))
                route: dict[str, Callable[[], None]] = {
                    "/robots.txt": lambda: self._send(site.robots[0], site.robots[1].encode(), "text/plain"),
                    "/sitemap.xml": lambda: self._send(200, site.sitemap(), "application/xml"),
                    "/old.html": lambda: self._redirect("/b.html"),
                    "/loop.html": lambda: self._redirect("/loop.html"),
                    "/big.html": lambda: self._send(200, b"<p>" + b"x" * 65536 + b"</p>", "text/html"),
                    "/big-chunked.html": self._chunked,
                    "/slow.html": self._slow,
                    "/": lambda: self._redirect("/index.html"),
                }
                if path in route:
                    route[path]()
                elif path in site.pages:
                    self._page(path, site.pages[path])
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _page(self, path: str, body: bytes) -> None:
                if path in site.no_validators:
                    self._send(200, body, "text/html; charset=utf-8")
                    return
                etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
                if self.headers.get("If-None-Match") == etag:
                    site.not_modified[path] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _chunked(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                block = b"y" * 4096
                for _ in range(16):
                    self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

            def _slow(self) -> None:
                time.sleep(site.slow_s)
                with contextlib.suppress(BrokenPipeError):  # the client gave up waiting, as it should
                    self._send(200, b"<p>late</p>", "text/html")

        return Handler
