"""The page in a real Chromium against a faked API: safety of rendered text, the API-key flow,
chat keyboard use and error messages. The whole stack is exercised in test_ui_stack.py."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.ui.conftest import BrowserSession, UiOnlyServer, open_session

pytestmark = [pytest.mark.e2e]

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


def sse(*events: tuple[str, Any]) -> Reply:
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    return lambda route: route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)


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
        elif path == "/api/chat":
            self.chat_requests.append(request.post_data_json)
            self.chat_replies.pop(0)(route)
        else:
            route.fulfill(status=404, json={"code": "not_found", "detail": path})


@pytest.fixture
def session(browser: Browser, ui_server: UiOnlyServer) -> Iterator[BrowserSession]:
    opened = open_session(browser, ui_server.origin)
    try:
        yield opened
    finally:
        opened.context.close()


def ask(page: Page, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    expect(page.locator("#messages li.assistant").last).not_to_have_attribute("data-state", "streaming")


def test_page_has_a_strict_csp_and_loads_nothing_from_elsewhere(
    ui_server: UiOnlyServer, session: BrowserSession
) -> None:
    r = httpx.get(f"{ui_server.origin}/")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe" not in csp
    assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), "no inline script"
    assert not re.search(r"\sstyle=|\son\w+=|https?://", r.text), "no inline style, handler or external URL"
    js = httpx.get(f"{ui_server.origin}/static/js/main.js")
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert httpx.get(f"{ui_server.origin}/static/nope.js").status_code == 404

    FakeApi(session.page)
    session.page.goto("/")
    expect(session.page.locator("#kb-select")).to_have_value("notes")
    expect(session.page.locator("#file-rows tr")).to_have_count(1)
    session.problems.assert_clean()


def test_api_key_is_asked_on_401_kept_and_sent_with_every_call(session: BrowserSession) -> None:
    page = session.page
    api = FakeApi(page, key="s3cret")
    page.goto("/")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#key-refused")).to_be_hidden()
    page.fill("#key-input", "wrong")
    page.press("#key-input", "Enter")
    expect(page.locator("#key-refused")).to_be_visible()
    page.fill("#key-input", "s3cret")
    page.click("#key-form button[type=submit]")
    expect(dialog).to_be_hidden()
    expect(page.locator("#kb-select")).to_have_value("notes")
    assert page.evaluate("localStorage.getItem('kb-server.api-key')") == "s3cret"

    api.keys_sent.clear()
    page.reload()
    expect(page.locator("#file-rows tr")).to_have_count(1)
    expect(dialog).to_be_hidden()
    assert api.keys_sent
    assert set(api.keys_sent) == {"s3cret"}
    session.problems.assert_clean(allowed_errors=("status of 401",))


def test_model_and_document_text_is_shown_as_text_and_never_runs(session: BrowserSession) -> None:
    page = session.page
    evil_name = '<img src=/x.png onerror="window.__xss=1">.md'
    api = FakeApi(page, files=[file_entry(name=evil_name, status="failed", error="<script>window.__xss=2</script>")])
    answer = (
        "Intro **bold** and `<b>code</b>` [1].\n\n"
        '<img src="/evil.png" onerror="window.__xss=3">\n'
        "<script>window.__xss=4</script>\n"
        "![pic](http://example.com/pic.png) [link](javascript:window.__xss=5)\n\n"
        "- one\n- two [1]\n\n"
        '```\n<svg onload="window.__xss=7"></svg>\n```'
    )
    tokens = [("token", {"delta": answer[i : i + 9]}) for i in range(0, len(answer), 9)]
    api.chat_replies.append(
        sse(
            ("citations", {"citations": [CITATION]}),
            *tokens,
            ("done", {"answer": answer, "citations": [CITATION], "refused": False}),
        )
    )
    page.goto("/#/kb/notes/files")
    expect(page.locator("#file-rows td.name")).to_have_text(evil_name)
    expect(page.locator("#file-rows .reason")).to_contain_text("<script>window.__xss=2</script>")

    page.click("#tab-chat")
    ask(page, "what does the guide say?")
    reply = page.locator("#messages li.assistant")
    expect(reply).to_have_attribute("data-state", "done")
    body = reply.locator(".answer")
    expect(body.locator("strong")).to_have_text("bold")
    expect(body.locator("code").first).to_have_text("<b>code</b>")
    expect(body.locator("li")).to_have_count(2)
    expect(body.locator("pre code")).to_have_text('<svg onload="window.__xss=7"></svg>')
    expect(body).to_contain_text("<script>window.__xss=4</script>")
    expect(body).to_contain_text("![pic](http://example.com/pic.png)")
    expect(body.locator("button.cite")).to_have_count(2)
    unsafe = "img, svg, script, a, b, i, iframe"
    assert page.locator(f"#messages :is({unsafe}), #file-rows :is({unsafe}), body > :is(img, svg)").count() == 0
    assert page.evaluate("window.__xss") is None

    body.locator("button.cite").first.click()
    expect(page.locator("#passage-dialog")).to_be_visible()
    expect(page.locator("#passage-title")).to_have_text("[1] <i>guide</i>.md")
    expect(page.locator("#passage-meta")).to_contain_text("score 0.81")
    expect(page.locator("#passage-text")).to_have_text(CITATION["text"])
    assert page.locator(f"#passage-dialog :is({unsafe})").count() == 0
    page.keyboard.press("Escape")
    expect(page.locator("#passage-dialog")).to_be_hidden()
    assert page.evaluate("window.__xss") is None
    assert not [u for u in session.problems.requests if u.endswith(".png")], "no image was fetched"
    assert api.chat_requests[0]["stream"] is True
    session.problems.assert_clean()


def test_dropped_files_each_get_a_row_that_follows_the_server(session: BrowserSession) -> None:
    page = session.page
    api = FakeApi(page)

    def upload(route: Route) -> None:
        body = route.request.post_data_buffer or b""
        if b'filename="new.txt"' in body:
            busy = file_entry(file_id=2, name="new.txt", status="processing", stage="embedding", progress=0.5)
            api.files.append(busy)
            answer = {"file_id": 2, "name": "new.txt", "sha256": "2" * 64, "status": "queued", "task_id": "t2"}
        else:
            answer = {"file_id": 1, "name": "again.txt", "sha256": "0" * 64, "status": "duplicate", "task_id": None}
        route.fulfill(status=202, json={"files": [answer]})

    api.on_upload = upload
    page.goto("/#/kb/notes/files")
    expect(page.locator("#file-rows tr")).to_have_count(1)
    dropped = page.evaluate_handle(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File(["fresh text"], "new.txt", {type: "text/plain"}));
          data.items.add(new File(["old text"], "again.txt", {type: "text/plain"}));
          return data;
        }"""
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dropped})
    fresh = page.locator("#file-rows tr[data-file-id='2']")
    expect(fresh).to_have_attribute("data-status", "processing")
    expect(fresh.locator(".badge")).to_have_text("embedding")
    expect(fresh.locator(".pct")).to_have_text("50%")
    again = page.locator("#file-rows tr[data-upload]")
    expect(again).to_have_attribute("data-status", "duplicate")
    expect(again.locator(".reason")).to_have_text("already in this knowledge base as “guide.md”")
    assert len(api.uploads) == 2, "one request per file"

    api.files[1] = file_entry(file_id=2, name="new.txt", chunks=1)
    expect(fresh).to_have_attribute("data-status", "done")
    expect(fresh.locator("td.chunks")).to_have_text("1")
    again.get_by_role("button", name="Dismiss").click()
    expect(page.locator("#file-rows tr")).to_have_count(2)
    session.problems.assert_clean()


def test_chat_keyboard_history_and_plain_error_messages(session: BrowserSession) -> None:
    page = session.page
    api = FakeApi(page)
    refusal = "The knowledge base has no answer to this question."
    api.chat_replies += [
        error(503, "llm_not_installed", "llama-cpp-python is not installed"),
        error(503, "llm_busy", "every generation slot stayed busy", **{"Retry-After": "5"}),
        sse(
            ("citations", {"citations": []}),
            ("token", {"delta": refusal}),
            ("done", {"answer": refusal, "citations": [], "refused": True}),
        ),
        sse(
            ("citations", {"citations": [CITATION]}),
            ("token", {"delta": "Half an ans"}),
            ("error", {"code": "llm_error", "detail": "the model crashed"}),
        ),
    ]
    page.goto("/#/kb/notes/chat")
    question = page.locator("#question")
    question.click()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(question).to_have_value("first line\nsecond line")
    assert api.chat_requests == []
    page.keyboard.press("Enter")
    replies = page.locator("#messages li.assistant")
    expect(replies.nth(0)).to_have_attribute("data-state", "error")
    expect(replies.nth(0).locator(".error")).to_contain_text("No language model is installed")
    assert api.chat_requests[0]["question"] == "first line\nsecond line"
    expect(question).to_have_value("")

    ask(page, "again?")
    expect(replies.nth(1).locator(".error")).to_contain_text("busy")
    expect(replies.nth(1).locator(".error")).to_contain_text("5 s")

    ask(page, "is the moon in it?")
    expect(replies.nth(2)).to_have_class(re.compile(r"\brefused\b"))
    expect(replies.nth(2)).to_contain_text("No answer in this knowledge base")
    expect(replies.nth(2)).to_contain_text(refusal)

    ask(page, "and the guide?")
    expect(replies.nth(3)).to_have_attribute("data-state", "error")
    expect(replies.nth(3).locator(".answer")).to_have_text("Half an ans")
    expect(replies.nth(3).locator(".error")).to_contain_text("the model crashed")
    # Failed exchanges are not sent back as history; answered ones are.
    assert api.chat_requests[3]["history"] == [
        {"role": "user", "content": "is the moon in it?"},
        {"role": "assistant", "content": refusal},
    ]

    page.reload()
    expect(page.locator("#messages li")).to_have_count(8)
    page.click("#chat-clear")
    expect(page.locator("#messages li")).to_have_count(0)
    expect(page.locator("#chat-empty")).to_be_visible()
    session.problems.assert_clean(allowed_errors=("status of 503",))


def _sentence(text: str, citations: list[int], unsupported: bool = False, before: str = " ") -> dict[str, Any]:
    return {"text": text, "citations": citations, "unsupported": unsupported, "before": before}


def _done(answer: str, sentences: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "answer": answer,
        "citations": [CITATION],
        "refused": False,
        "refused_by": None,
        "mode": "generate",
        "fallback": None,
        "sentences": sentences,
        "unsupported": sum(s["unsupported"] for s in sentences),
        **fields,
    }


def test_answers_render_sentence_by_sentence_with_unsupported_ones_marked_and_mode_notes(
    session: BrowserSession, artifacts: Path
) -> None:
    page = session.page
    api = FakeApi(page)
    raw = (
        "Intro:\n\n- The guide explains <b>setup</b> [1].\n- It was written on the moon.\n\n熊猫吃竹子。它们住在月球。"
    )
    sentences = [
        _sentence("Intro:", [], before=""),
        _sentence("The guide explains <b>setup</b>.", [1], before="\n\n- "),
        _sentence("It was written on the moon.", [], True, before="\n- "),
        _sentence("熊猫吃竹子。", [1], before="\n\n"),
        _sentence("它们住在月球。", [], True, before=""),
        _sentence("```js\nconst x = '<b>1</b>';\n```", [1], before="\n\n"),
        _sentence("After the code.", [], before="\n"),
    ]
    rendered = "".join(s["before"] + s["text"] + "".join(f"[{n}]" for n in s["citations"]) for s in sentences)
    quote = [_sentence("<b>passage</b> <img src=/p.png onerror=window.__xss=6>", [1], before="")]
    api.chat_replies += [
        sse(("citations", {"citations": [CITATION]}), ("token", {"delta": raw}), ("done", _done(rendered, sentences))),
        sse(
            ("citations", {"citations": [CITATION]}),
            ("token", {"delta": "<b>passage</b>[1]"}),
            ("done", _done("<b>passage</b>[1]", quote, mode="quote")),
        ),
        sse(
            ("citations", {"citations": [CITATION]}),
            ("token", {"delta": "<b>passage</b>[1]"}),
            ("done", _done("<b>passage</b>[1]", quote, mode="quote", fallback="no_llm")),
        ),
        sse(
            ("citations", {"citations": [CITATION]}),
            ("token", {"delta": "I do not know."}),
            ("done", _done("The knowledge base has no answer to this question.", [], refused=True, refused_by="model")),
        ),
    ]
    page.goto("/#/kb/notes/chat")
    ask(page, "what does the guide say?")
    reply = page.locator("#messages li.assistant").last
    spans = reply.locator(".answer .sentence")
    expect(spans).to_have_count(7)
    expect(spans.nth(5).locator("pre code")).to_have_text("const x = '<b>1</b>';")
    expect(spans.nth(5).locator("button.cite")).to_have_count(1)
    expect(reply.locator(".answer p").last).to_have_text("After the code.")
    expect(reply.locator(".answer li")).to_have_count(2)
    expect(spans.nth(1)).to_have_text("The guide explains <b>setup</b>.[1]")
    expect(spans.nth(1).locator("button.cite")).to_have_count(1)
    expect(spans.nth(3).locator("button.cite")).to_have_count(1)
    assert reply.locator(".answer button.cite").count() == 3
    flagged = reply.locator(".answer .sentence.unsupported")
    expect(flagged).to_have_count(2)
    expect(flagged.first).to_have_attribute("title", "Not found in the passages")
    expect(flagged.first.locator("button.cite")).to_have_count(0)
    style = "el => { const s = getComputedStyle(el); return [s.textDecorationStyle, s.color]; }"
    flagged_style, plain_style = flagged.first.evaluate(style), spans.nth(1).evaluate(style)
    assert flagged_style[0] == "dotted"
    assert flagged_style[1] != plain_style[1]
    expect(reply.locator(".mode-note")).to_have_text("The 2 underlined sentences were not found in the passages.")
    reply.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "answer-unsupported-laptop.png"))
    spans.nth(3).locator("button.cite").click()
    expect(page.locator("#passage-dialog")).to_be_visible()
    page.keyboard.press("Escape")

    assert "mode" not in api.chat_requests[0]
    page.locator(".options summary").click()
    page.check("#opt-quote")
    ask(page, "quote it")
    assert api.chat_requests[1]["mode"] == "quote"
    reply = page.locator("#messages li.assistant").last
    expect(reply.locator(".mode-note")).to_have_text("Quoted from the passages, no language model.")
    expect(reply.locator(".answer .sentence")).to_have_text("<b>passage</b> <img src=/p.png onerror=window.__xss=6>[1]")
    page.uncheck("#opt-quote")
    ask(page, "and without a model?")
    assert "mode" not in api.chat_requests[2]
    expect(page.locator("#messages li.assistant").last.locator(".mode-note")).to_have_text(
        "No language model is installed: quoted from the passages."
    )
    ask(page, "and the moon?")
    reply = page.locator("#messages li.assistant").last
    expect(reply.locator(".mode-note")).to_have_text("The model found no answer in the passages.")
    expect(reply.locator(".answer .sentence")).to_have_count(0)
    expect(reply.locator(".answer")).to_have_text("The knowledge base has no answer to this question.")

    page.reload()  # the sentences are kept with the conversation
    expect(page.locator("#messages li.assistant").first.locator(".answer .sentence.unsupported")).to_have_count(2)
    unsafe = "img, svg, script, a, b, i, iframe"
    assert page.locator(f"#messages :is({unsafe})").count() == 0
    assert page.evaluate("window.__xss") is None
    session.problems.assert_clean()
