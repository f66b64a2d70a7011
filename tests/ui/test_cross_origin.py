"""CORS with an API key: a page on an allowed origin calls the API with its key, from a real Chromium.

The browser's preflight (OPTIONS) carries no key, so it has to be answered before the key is asked
for; and a 401 must carry the CORS headers too, or the page cannot even read that it was refused.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from tests.support.processes import free_port
from tests.support.stack import Stack, api_only

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

KEY = "cross-origin-key-0123456789"
OTHER_ORIGIN = "http://evil.example"

# Runs in the page: one call with the key (preflighted: a custom header), a JSON POST with it, and
# one without (a simple GET, no preflight). A CORS failure is a TypeError, reported as `error`.
CALLS = """
async ({api, key}) => {
  const call = async (path, init) => {
    try {
      const r = await fetch(api + path, init);
      return {status: r.status, body: await r.json()};
    } catch (e) {
      return {error: String(e)};
    }
  };
  return {
    list: await call('/api/kbs', {headers: {'X-API-Key': key}}),
    create: await call('/api/kbs', {
      method: 'POST',
      headers: {'X-API-Key': key, 'Content-Type': 'application/json'},
      body: JSON.stringify({name: 'from-the-page'}),
    }),
    refused: await call('/api/kbs', {}),
  };
}
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tiny static site on its own port: another origin than the API."""
    root = tmp_path_factory.mktemp("page")
    (root / "index.html").write_text("<!doctype html><title>another site</title><p>calls kb-server</p>")
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, name="page-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, page_origin: str) -> Iterator[Stack]:
    """The API process (and its Redis) with a key and the page's origin allowed; no worker is needed."""
    with api_only(
        Path(tmp_path_factory.mktemp("cors")), KB_API_KEY=KEY, KB_CORS_ORIGINS=json.dumps([page_origin])
    ) as stack:
        yield stack


def test_preflight_passes_before_the_key_and_a_401_carries_the_cors_headers(api: Stack, page_origin: str) -> None:
    url = f"{api.base_url}/api/kbs"
    preflight = httpx.options(
        url,
        headers={
            "Origin": page_origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == page_origin
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    assert "POST" in preflight.headers["access-control-allow-methods"]

    with_key = httpx.get(url, headers={"Origin": page_origin, "X-API-Key": KEY})
    assert with_key.status_code == 200, with_key.text
    assert with_key.headers["access-control-allow-origin"] == page_origin

    without_key = httpx.get(url, headers={"Origin": page_origin})
    assert without_key.status_code == 401
    assert without_key.json()["code"] == "unauthorized"
    assert without_key.headers["access-control-allow-origin"] == page_origin

    # Another origin gets nothing from CORS, and the key is still required.
    foreign = httpx.options(url, headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "GET"})
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    foreign_get = httpx.get(url, headers={"Origin": OTHER_ORIGIN})
    assert foreign_get.status_code == 401
    assert "access-control-allow-origin" not in foreign_get.headers


def test_a_page_on_an_allowed_origin_calls_the_api_with_its_key(browser: Browser, api: Stack, page_origin: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{page_origin}/index.html")
        results = page.evaluate(CALLS, {"api": api.base_url, "key": KEY})
    finally:
        context.close()
    assert results["list"].get("status") == 200, results
    assert results["create"].get("status") == 201, results
    assert results["create"]["body"]["name"] == "from-the-page"
    assert results["refused"] == {
        "status": 401,
        "body": {"code": "unauthorized", "detail": "a valid API key is required (X-API-Key header)"},
    }, results
