"""A faked kb-server API for the UI tests: canned knowledge bases, files and chat replies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect

KB = {
    "name": "notes",
    "description": "",
    "embedder": "minilm",
    "dim": 384,
    "files": 1,
    "chunks": 3,
    "created_at": "2025-01-01T10:00:00+00:00",
}
CITATION = {
    "n": 1,
    "chunk_id": 7,
    "file_id": 1,
    "file_name": "<i>guide</i>.md",
    "score": 0.8123,
    "text": "<b>passage</b> <img src=/p.png onerror=window.__xss=6>",
    "metadata": {"title": "Guide"},
}

Reply = Callable[[Route], None]


def file_entry(**override: Any) -> dict[str, Any]:
    entry = {
        "file_id": 1,
        "name": "guide.md",
        "sha256": "0" * 64,
        "size": 2048,
        "status": "done",
        "stage": None,
        "progress": 1.0,
        "chunks": 3,
        "error": None,
        "error_code": None,
        "task_id": "t1",
        "attempts": 1,
        "created_at": "2025-01-01T10:00:00+00:00",
        "updated_at": "2025-01-01T10:00:05+00:00",
    }
    return {**entry, **override}


class SseReply:
    """A canned event stream; its `done` payload is what a server would store in the conversation."""

    def __init__(self, events: tuple[tuple[str, Any], ...]) -> None:
        self.body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
        self.done = next((data for name, data in events if name == "done"), None)

    def __call__(self, route: Route) -> None:
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=self.body)


def sse(*events: tuple[str, Any]) -> SseReply:
    return SseReply(events)


def error(status: int, code: str, detail: str, **headers: str) -> Reply:
    return lambda route: route.fulfill(status=status, json={"code": code, "detail": detail}, headers=headers)


class FakeApi:
    """Answers the page's API calls; chat replies are served in order."""

    def __init__(self, page: Page, *, files: list[dict[str, Any]] | None = None, key: str | None = None) -> None:
        self.files = files if files is not None else [file_entry()]
        self.key = key
        self.chat_replies: list[Reply] = []
        self.chat_requests: list[dict[str, Any]] = []
        self.keys_sent: list[str | None] = []
        self.uploads: list[bytes] = []
        self.on_upload: Reply = error(415, "unsupported_file_type", "no uploads expected")
        self.conversations: dict[int, dict[str, Any]] = {}
        self.cancels: list[str] = []
        self.on_cancel: Reply = error(404, "not_found", "no cancel expected")
        self.url_requests: list[dict[str, Any]] = []
        page.route("**/api/**", self.handle)

    def handle(self, route: Route) -> None:
        request = route.request
        path = urlsplit(request.url).path
        self.keys_sent.append(request.headers.get("x-api-key"))
        if self.key and request.headers.get("x-api-key") != self.key:
            route.fulfill(status=401, json={"code": "unauthorized", "detail": "a valid X-API-Key is required"})
        elif path == "/api/kbs":
            route.fulfill(json={"kbs": [KB]})
        elif path == "/api/kbs/notes/files" and request.method == "POST":
            self.uploads.append(request.post_data_buffer or b"")
            self.on_upload(route)
        elif path == "/api/kbs/notes/files":
            route.fulfill(json={"files": self.files})
        elif path == "/api/kbs/notes/urls" and request.method == "POST":
            self.url_requests.append(dict(request.post_data_json or {}))
            route.fulfill(status=202, json={"request_id": "r1", "refresh_s": self.url_requests[-1].get("refresh_s")})
        elif path == "/api/kbs/notes/urls/r1":
            route.fulfill(json=url_request(self.url_requests[-1]))
        elif path.endswith("/cancel") and request.method == "POST":
            self.cancels.append(path)
            self.on_cancel(route)
        elif path == "/api/chat":
            body = request.post_data_json
            self.chat_requests.append(body)
            reply = self.chat_replies.pop(0)
            reply(route)
            kept = self.conversations.get(body.get("conversation_id"))
            if kept is not None and getattr(reply, "done", None) is not None:
                kept["messages"] += [
                    {"role": "user", "content": body["question"]},
                    {"role": "assistant", "content": reply.done["answer"], **reply.done},
                ]
        elif path.startswith("/api/conversations"):
            self.conversation(route, path.removeprefix("/api/conversations").strip("/"))
        else:
            route.fulfill(status=404, json={"code": "not_found", "detail": path})

    def conversation(self, route: Route, rest: str) -> None:
        method = route.request.method
        if not rest and method == "POST":
            n = len(self.conversations) + 1
            body = route.request.post_data_json
            self.conversations[n] = {"id": n, "title": "", "kb": body["kb"], "kbs": [body["kb"]], "messages": []}
            route.fulfill(status=201, json=self.conversations[n])
        elif not rest:
            route.fulfill(json={"conversations": list(self.conversations.values())})
        elif int(rest) in self.conversations and method == "GET":
            route.fulfill(json=self.conversations[int(rest)])
        else:
            route.fulfill(status=404, json={"code": "not_found", "detail": rest})


def url_request(body: dict[str, Any]) -> dict[str, Any]:
    """A URL request done at once: each URL fetched."""
    page = {"kind": "page", "depth": 0, "status": "fetched", "title": "Page", "file_id": 9, "file_status": "done"}
    pages = [{**page, "url": url, "chunks": 1, "error_code": None, "error": None} for url in body["urls"]]
    return {"request_id": "r1", "state": "done", "refresh_s": body.get("refresh_s") or None, "pages": pages}


def ask(page: Page, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    expect(page.locator("#messages li.assistant").last).not_to_have_attribute("data-state", "streaming")
