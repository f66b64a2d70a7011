"""The page in a real Chromium against a faked API: safety of rendered text, the API-key flow,
chat keyboard use and error messages. The whole stack is exercised in test_ui_stack.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Route, expect

from tests.ui.conftest import LAPTOP, PHONE, BrowserSession, UiOnlyServer, open_session
from tests.ui.fake_api import CITATION, FakeApi, ask, error, file_entry, sse

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def session(browser: Browser, ui_server: UiOnlyServer) -> Iterator[BrowserSession]:
    opened = open_session(browser, ui_server.origin)
    try:
        yield opened
    finally:
        opened.context.close()


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

    page.locator(".options summary").click()
    page.check("#opt-as-typed")
    ask(page, "and the guide?")
    expect(replies.nth(3)).to_have_attribute("data-state", "error")
    expect(replies.nth(3).locator(".answer")).to_have_text("Half an ans")
    expect(replies.nth(3).locator(".error")).to_contain_text("the model crashed")
    # One server-side conversation carries the history; only answered exchanges are kept in it.
    assert {r["conversation_id"] for r in api.chat_requests} == {1}
    assert all("history" not in r for r in api.chat_requests)
    assert ["rewrite" in r for r in api.chat_requests] == [False, False, False, True]
    assert api.chat_requests[3]["rewrite"] is False  # "Search as typed"

    page.reload()
    expect(page.locator("#messages li")).to_have_count(2)
    expect(page.locator("#messages li.assistant")).to_contain_text(refusal)
    page.click("#chat-clear")
    expect(page.locator("#messages li")).to_have_count(0)
    expect(page.locator("#chat-empty")).to_be_visible()
    session.problems.assert_clean(allowed_errors=("status of 503",))


def test_pending_files_have_a_cancel_button_and_the_kb_a_cancel_all(session: BrowserSession, artifacts: Path) -> None:
    page = session.page
    api = FakeApi(
        page,
        files=[
            file_entry(),
            file_entry(file_id=2, name="big.pdf", status="processing", stage="embedding", progress=0.4),
            file_entry(file_id=3, name="later.md", status="queued", stage=None, progress=0.0),
            file_entry(file_id=4, name="last.md", status="queued", stage=None, progress=0.0),
        ],
    )

    def cancel(route: Route) -> None:
        path = urlsplit(route.request.url).path
        reason = (route.request.post_data_json or {}).get("reason")
        gone = [2, 3, 4] if path == "/api/kbs/notes/cancel" else [int(path.split("/")[-2])]
        for n, f in enumerate(api.files):
            if f["file_id"] in gone:
                api.files[n] = {**f, "status": "cancelled", "stage": None, "error": reason, "error_code": "cancelled"}
        if path == "/api/kbs/notes/cancel":
            route.fulfill(json={"cancelled": gone})
        else:
            route.fulfill(json=next(f for f in api.files if f["file_id"] == gone[0]))

    api.on_cancel = cancel
    page.goto("/#/kb/notes/files")
    rows = page.locator("#file-rows tr[data-file-id]")
    expect(rows).to_have_count(4)
    cancel_buttons = page.locator("#file-rows button.cancel")
    expect(page.locator("#file-rows tr[data-file-id='1'] button.cancel")).to_be_hidden()
    expect(cancel_buttons.filter(visible=True)).to_have_count(3)
    expect(page.locator("#cancel-pending")).to_have_text("Cancel all pending (3)")
    page.screenshot(path=str(artifacts / "files-cancel-before.png"))
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / "files-cancel-before-phone.png"), full_page=True)
    page.set_viewport_size(LAPTOP)

    page.locator("#file-rows tr[data-file-id='3'] button.cancel").click()
    later = page.locator("#file-rows tr[data-file-id='3']")
    expect(later).to_have_attribute("data-status", "cancelled")
    expect(later.locator(".badge")).to_have_text("cancelled")
    expect(later.locator(".reason")).to_have_text(
        "cancelled from the web UI; re-ingest or upload it again to ingest it"
    )
    expect(later.locator("button.cancel")).to_be_hidden()
    expect(page.locator("#cancel-pending")).to_have_text("Cancel all pending (2)")

    page.click("#cancel-pending")
    expect(page.locator("#confirm-message")).to_have_text(
        "Cancel the 2 files not ingested yet? Files already done stay."
    )
    page.click("#confirm-ok")
    expect(page.locator("#file-rows tr[data-status='cancelled']")).to_have_count(3)
    expect(page.locator("#cancel-pending")).to_be_hidden()
    expect(page.locator("#file-rows tr[data-file-id='1']")).to_have_attribute("data-status", "done")
    assert api.cancels == ["/api/kbs/notes/files/3/cancel", "/api/kbs/notes/cancel"]
    page.screenshot(path=str(artifacts / "files-cancel-after.png"))
    session.problems.assert_clean()


def test_the_web_page_form_asks_for_a_refresh_schedule(session: BrowserSession, artifacts: Path) -> None:
    page = session.page
    api = FakeApi(page)
    page.goto("/#/kb/notes/files")
    page.fill("#web-page-url", "https://docs.example.org/handbook/")
    page.select_option("#web-page-refresh", label="daily")
    page.click("#web-page-form button[type=submit]")
    expect(page.locator("#web-page-status")).to_have_text("1 of 1 pages fetched, checked for changes every day")
    assert api.url_requests == [{"urls": ["https://docs.example.org/handbook/"], "depth": 0, "refresh_s": 86400}]
    page.screenshot(path=str(artifacts / "files-web-page-refresh.png"))
    page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    page.screenshot(path=str(artifacts / "files-web-page-refresh-phone.png"))
    session.problems.assert_clean()
