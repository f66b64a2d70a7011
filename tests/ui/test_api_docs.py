"""The API docs (/docs) render in a real Chromium with every request off this machine refused: Swagger
UI's scripts come from the fastapi-offline package, served by the app, not from a CDN."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Route, expect

from kb_server.api.app import create_app
from kb_server.settings import load_settings
from tests.support.processes import free_port
from tests.ui.conftest import open_session

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def docs_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app (every router, its middleware) with its lifespan off: the docs need no services."""
    settings = load_settings(data_dir=Path(tmp_path_factory.mktemp("docs")))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="docs-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the docs server stopped"
        assert time.monotonic() < deadline, "the docs server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_swagger_ui_lists_the_operations_with_the_network_closed(
    browser: Browser, docs_origin: str, artifacts: Path
) -> None:
    session = open_session(browser, docs_origin)
    refused: list[str] = []

    def off_machine(route: Route) -> None:
        refused.append(route.request.url)
        route.abort("internetdisconnected")

    session.context.route(lambda url: not url.startswith(docs_origin) and not url.startswith("data:"), off_machine)
    try:
        page = session.page
        page.goto("/docs")
        for path in ("/api/kbs", "/api/kbs/{kb}/files/{file_id}/cancel", "/api/kbs/{kb}/cancel"):
            expect(page.locator(f".opblock-post .opblock-summary-path[data-path='{path}']")).to_be_visible()
        expect(page.locator(".opblock-get .opblock-summary-path[data-path='/api/kbs/{kb}/files']")).to_be_visible()
        page.screenshot(path=str(artifacts / "api-docs.png"))
        assert refused == [], "the docs page asked for something off this machine"
        session.problems.assert_clean()
        assert any("/static-offline-docs/" in url for url in session.problems.requests), session.problems.requests
    finally:
        session.context.close()


def test_redoc_is_off_rather_than_half_offline(docs_origin: str) -> None:
    """ReDoc fetches its logo from a CDN whatever its script's origin, so the app does not serve it."""
    assert httpx.get(f"{docs_origin}/redoc", timeout=10).status_code == 404
    assert httpx.get(f"{docs_origin}/docs", timeout=10).status_code == 200
