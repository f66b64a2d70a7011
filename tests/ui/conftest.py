"""A real headless Chromium (Debian's `chromium`, driven by Playwright) for the UI tests.

Never `playwright install`: the browser comes from the system package, so nothing is downloaded.
Every page records requests to other origins, console errors and uncaught exceptions; a test
fails if the page produced any of them.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Request, sync_playwright

from kb_server.api.error_handlers import install_error_handlers
from kb_server.api.routes.ui import mount_ui
from tests.support.processes import REPO, free_port

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = REPO / "artifacts" / "ui"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("the UI tests need Debian's chromium package: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=BROWSER_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@dataclass
class PageProblems:
    origin: str
    requests: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("request", self._request)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))

    def _request(self, request: Request) -> None:
        url = request.url
        self.requests.append(url)
        if not url.startswith(self.origin) and not url.startswith("data:"):
            self.foreign_requests.append(url)

    def assert_clean(self, *, allowed_errors: tuple[str, ...] = ()) -> None:
        assert self.foreign_requests == [], "the page reached outside its server"
        unexpected = [e for e in self.errors if not any(a in e for a in allowed_errors)]
        assert unexpected == [], "the page logged errors"


@dataclass
class BrowserSession:
    context: BrowserContext
    page: Page
    problems: PageProblems


def open_session(browser: Browser, origin: str) -> BrowserSession:
    context = browser.new_context(viewport=LAPTOP, base_url=origin)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = PageProblems(origin)
    problems.watch(page)
    return BrowserSession(context, page, problems)


class UiOnlyServer:
    """Just the UI router in an in-process uvicorn; tests fake the API with `page.route`."""

    def __init__(self) -> None:
        app = FastAPI()
        install_error_handlers(app)
        mount_ui(app)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="ui-server", daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> UiOnlyServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the UI test server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def ui_server() -> Iterator[UiOnlyServer]:
    server = UiOnlyServer().start()
    try:
        yield server
    finally:
        server.stop()
