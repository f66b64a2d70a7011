"""The whole path through the page, in a real Chromium, against the real stack (embedded Redis, a
Celery worker, the API with the bundled model and SmolLM2): create a knowledge base, drop real
documents, watch them ingest, ask a question, read a cited passage, delete a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.processes import REPO
from tests.support.stack import Stack
from tests.ui.conftest import LAPTOP, PHONE, BrowserSession, open_session

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DOCS = ["nodejs-api-http.md", "live-manual.en.docx"]
QUESTION = "How do I create an HTTP server in Node.js?"
INGEST_TIMEOUT_MS = 300_000
ANSWER_TIMEOUT_MS = 180_000
ZH_DOCS = ["panda.md", "tea.md", "greatwall.md"]
ZH_QUESTION = "大熊猫每天吃多少竹子？"
QUOTED_NOTE = "Quoted from the passages, no language model."

# Records every label and status an element shows, so the test sees the stages go by.
WATCH_STAGES = """
() => {
  window.__stages = [];
  const seen = (label) => { if (label && window.__stages.at(-1) !== label) window.__stages.push(label); };
  new MutationObserver(() => {
    document.querySelectorAll('#file-rows .badge').forEach((b) => seen(b.textContent));
  }).observe(document.querySelector('#file-rows'), {subtree: true, childList: true, characterData: true});
}
"""
WATCH_ANSWER = """
() => {
  window.__answerLengths = [];
  new MutationObserver(() => {
    const answer = document.querySelector('#messages li.assistant:last-child .answer');
    if (answer) window.__answerLengths.push(answer.textContent.length);
  }).observe(document.querySelector('#messages'), {subtree: true, childList: true, characterData: true});
}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(Path(tmp_path_factory.mktemp("ui-stack"))).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def session(browser: Browser, stack: Stack) -> Iterator[BrowserSession]:
    opened = open_session(browser, stack.base_url)
    try:
        yield opened
    finally:
        opened.context.close()


def file_row(page: Page, name: str) -> Locator:
    return page.locator("#file-rows tr[data-file-id]").filter(has=page.locator("td.name", has_text=name))


def snapshot(page: Page, artifacts: Path, name: str) -> None:
    for label, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(artifacts / f"{name}-{label}.png"), full_page=label == "phone")
    page.set_viewport_size(LAPTOP)


# The open conversation's last answer as the server stored it, fetched the way the page does.
STORED_REPLY = """
async (kb) => {
  const id = localStorage.getItem(`kb-server.conversation.${kb}`);
  const headers = {"X-Client-Id": localStorage.getItem("kb-server.client-id")};
  const detail = await (await fetch(`/api/conversations/${id}`, {headers})).json();
  return JSON.stringify(detail.messages.at(-1));
}
"""


def last_reply(page: Page, kb: str) -> dict[str, Any]:
    """The finished reply (the `done` event's fields, as stored in the conversation)."""
    stored: dict[str, Any] = json.loads(page.evaluate(STORED_REPLY, kb))
    stored["mode"] = page.locator("#messages li.assistant").last.get_attribute("data-mode")
    return stored


def ask_and_wait(page: Page, question: str) -> Locator:
    page.fill("#question", question)
    page.press("#question", "Enter")
    reply = page.locator("#messages li.assistant").last
    expect(reply).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)
    return reply


def check_sentences(page: Page, reply: Locator, kb: str) -> dict[str, Any]:
    """Each sentence the server sent is one span, with its [n] buttons, marked when unsupported."""
    data = last_reply(page, kb)
    spans = reply.locator(".answer .sentence")
    if data["refused"]:
        expect(spans).to_have_count(0)
        expect(reply.locator(".mode-note")).to_have_text("The model found no answer in the passages.")
        return data
    sentences = data["sentences"]
    assert sentences, data
    expect(spans).to_have_count(len(sentences))
    for i, s in enumerate(sentences):
        span = spans.nth(i)
        expect(span.locator("button.cite")).to_have_count(len(s["citations"]))
        assert ("unsupported" in (span.get_attribute("class") or "").split()) == s["unsupported"]
        if s["unsupported"]:
            expect(span).to_have_attribute("title", "Not found in the passages")
    return data


def ask_quoted(page: Page, kb: str, question: str) -> Locator:
    """Ask with "Quote only" ticked: every sentence comes from a passage and cites it."""
    if not page.locator("#opt-quote").is_visible():
        page.locator(".options summary").click()
    page.check("#opt-quote")
    reply = ask_and_wait(page, question)
    page.uncheck("#opt-quote")
    expect(reply.locator(".mode-note")).to_have_text(QUOTED_NOTE)
    data = check_sentences(page, reply, kb)
    assert data["mode"] == "quote"
    assert all(s["citations"] and not s["unsupported"] for s in data["sentences"])
    assert reply.locator(".answer .sentence.unsupported").count() == 0
    return reply


LIST_CONVERSATIONS = """
async () => {
  const headers = {"X-Client-Id": localStorage.getItem("kb-server.client-id")};
  return (await (await fetch("/api/conversations", {headers})).json()).conversations.map((c) => c.title);
}
"""


def check_conversations(page: Page, browser: Browser, origin: str, artifacts: Path) -> None:
    """The questions asked so far and a follow-up are one conversation on the server: the follow-up
    is searched with the first question's terms (shown), the conversation is listed under the first
    question, reopened after a reload, renamed; a second one is started, the first reopened, the
    second deleted; another browser sees none of them."""
    follow_up = ask_quoted(page, "manuals", "and how do I stop it?")
    expect(follow_up.locator(".searched-for")).to_contain_text("Searched for: and how do I stop it? (")
    expect(follow_up.locator(".searched-for")).to_contain_text("HTTP")
    listed = page.locator("#conversation-list li")
    expect(listed).to_have_count(1)
    expect(listed.locator(".open")).to_have_text(QUESTION)
    page.reload()
    expect(page.locator("#messages li")).to_have_count(6)
    expect(page.locator("#messages li.assistant .searched-for").last).to_contain_text("Searched for:")
    expect(listed).to_have_attribute("aria-current", "true")
    listed.locator(".rename").click()
    page.fill("#rename-input", "Node HTTP servers")
    page.press("#rename-input", "Enter")
    expect(listed.locator(".open")).to_have_text("Node HTTP servers")
    expect(page.locator("#chat-title")).to_have_text("Node HTTP servers")

    page.click("#chat-clear")
    expect(page.locator("#messages li")).to_have_count(0)
    ask_quoted(page, "manuals", QUESTION)
    expect(listed).to_have_count(2)
    snapshot(page, artifacts, "conversations")
    page.locator("#conversation-list li", has_text="Node HTTP servers").locator(".open").click()
    expect(page.locator("#messages li")).to_have_count(6)
    page.locator("#conversation-list li", has_text=QUESTION).locator(".delete").click()
    page.click("#confirm-ok")
    expect(listed).to_have_count(1)
    assert page.evaluate(LIST_CONVERSATIONS) == ["Node HTTP servers"]

    other = open_session(browser, origin)
    try:
        other.page.goto("/#/kb/manuals/chat")
        expect(other.page.locator("#conversations-empty")).to_be_visible()
        expect(other.page.locator("#conversation-list li")).to_have_count(0)
        assert other.page.evaluate(LIST_CONVERSATIONS) == []
    finally:
        other.context.close()


def check_two_kbs(page: Page, stack: Stack, artifacts: Path) -> None:
    """ "Also ask…" another KB: a new conversation over both, whose passages each name their KB."""
    stack.client.create_kb("animals")
    zh_docs = [(name, (REPO / "tests" / "fixtures" / "zh" / name).read_bytes()) for name in ZH_DOCS]
    stack.client.upload("animals", zh_docs)
    assert [f["status"] for f in stack.client.wait_settled("animals", expected=len(ZH_DOCS))] == ["done"] * 3
    page.reload()
    page.locator("#also-ask summary").click()
    page.check("#also-ask-list input[value='animals']")
    expect(page.locator("#chat-kb")).to_have_text("manuals + animals")
    expect(page.locator("#messages li")).to_have_count(0)
    with page.expect_request("**/api/chat") as sent:
        panda = ask_quoted(page, "manuals", ZH_QUESTION)
    assert sent.value.post_data_json["kbs"] == ["manuals", "animals"]
    assert "animals" in {c["kb"] for c in last_reply(page, "manuals")["citations"]}
    expect(panda.locator(".sources button.chip", has_text="animals: panda.md")).not_to_have_count(0)
    node = ask_quoted(page, "manuals", QUESTION)
    assert "manuals" in {c["kb"] for c in last_reply(page, "manuals")["citations"]}
    expect(node.locator(".sources button.chip", has_text="manuals: nodejs-api-http.md")).not_to_have_count(0)
    snapshot(page, artifacts, "chat-two-kbs")
    expect(page.locator("#conversation-list li")).to_have_count(2)
    stack.client.http.delete("/api/kbs/animals")


def test_upload_ingest_chat_cite_and_delete_through_the_page(
    session: BrowserSession, browser: Browser, stack: Stack, shared_data: Path, artifacts: Path, tmp_path: Path
) -> None:
    index = stack.client.http.get("/")
    assert index.status_code == 200, "the API does not serve the UI: create_app must call ui_router.mount_ui(app)"
    page = session.page
    page.goto("/")
    expect(page.locator("#view-empty")).to_be_visible()
    page.click("#kb-new-empty")
    page.fill("#kb-name", "manuals")
    page.fill("#kb-description", "Node.js and Debian Live manuals")
    page.press("#kb-description", "Enter")
    expect(page.locator("#kb-select")).to_have_value("manuals")
    expect(page).to_have_url(f"{stack.base_url}/#/kb/manuals/files")

    page.evaluate(WATCH_STAGES)
    paths = [shared_data / "formats" / name for name in DOCS]
    page.set_input_files("#file-input", [str(p) for p in paths])
    busy = page.locator("#file-rows tr[data-status='processing']")
    expect(busy.first).to_be_visible(timeout=INGEST_TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "upload-progress-laptop.png"))
    for path in paths:
        row = file_row(page, path.name)
        expect(row).to_have_attribute("data-status", "done", timeout=INGEST_TIMEOUT_MS)
        assert row.locator("progress").evaluate("bar => bar.value") == 1
        assert int(row.locator("td.chunks").inner_text()) > 0
    stages = page.evaluate("window.__stages")
    assert stages[-1] == "done"
    assert {"parsing", "chunking", "embedding", "indexing"} & set(stages), stages

    # The same bytes under another name are a duplicate; a fake .docx is rejected with its reason.
    copy = tmp_path / "copy-of-http.md"
    copy.write_bytes(paths[0].read_bytes())
    fake = tmp_path / "not-really.docx"
    fake.write_bytes(b"plain text pretending to be a Word document\n")
    page.set_input_files("#file-input", [str(copy), str(fake)])
    duplicate = page.locator("#file-rows tr[data-upload]", has_text=copy.name)
    rejected = page.locator("#file-rows tr[data-upload]", has_text=fake.name)
    expect(duplicate).to_have_attribute("data-status", "duplicate")
    expect(duplicate.locator(".reason")).to_contain_text(f"as “{paths[0].name}”")
    expect(rejected).to_have_attribute("data-status", "rejected")
    expect(rejected.locator(".reason")).not_to_be_empty()
    snapshot(page, artifacts, "upload")

    # The same name with other bytes is the next version: the row says what it replaces, then that it did.
    old_id = file_row(page, paths[0].name).get_attribute("data-file-id")
    revised = tmp_path / "revised" / paths[0].name
    revised.parent.mkdir()
    revised.write_bytes(paths[0].read_bytes() + b"\n\n## Revision\n\nThis manual was revised.\n")
    page.set_input_files("#file-input", [str(revised)])
    expect(page.locator("#file-rows td.name .version", has_text="v2, replaces v1").first).to_be_visible()
    new_row = file_row(page, "v2, replaced v1")
    expect(new_row).to_have_attribute("data-status", "done", timeout=INGEST_TIMEOUT_MS)
    expect(page.locator(f"#file-rows tr[data-file-id='{old_id}']")).to_have_count(0)
    page.screenshot(path=str(artifacts / "new-version-laptop.png"))

    # The table comes from the server: a reload shows the same files.
    page.reload()
    expect(page.locator("#file-rows tr")).to_have_count(2)
    for path in paths:
        expect(file_row(page, path.name)).to_have_attribute("data-status", "done")

    page.click("#tab-chat")
    expect(page.locator("#question")).to_be_visible()
    page.evaluate(WATCH_ANSWER)
    page.fill("#question", QUESTION)
    page.press("#question", "Enter")
    reply = page.locator("#messages li.assistant").last
    expect(reply).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)
    answer = reply.locator(".answer").inner_text()
    assert answer.strip()
    lengths = [n for n in page.evaluate("window.__answerLengths") if n]
    assert len(set(lengths)) >= 2, f"the answer did not stream in: {lengths}"
    chips = reply.locator(".sources button.chip")
    assert chips.count() >= 1
    chips.first.click()
    dialog = page.locator("#passage-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#passage-title")).to_contain_text("nodejs-api-http.md")
    expect(page.locator("#passage-meta")).to_contain_text("score")
    assert len(page.locator("#passage-text").inner_text()) > 40
    page.screenshot(path=str(artifacts / "passage-laptop.png"))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    check_sentences(page, reply, "manuals")
    snapshot(page, artifacts, "chat")

    quoted = ask_quoted(page, "manuals", QUESTION)
    quoted.locator(".answer button.cite").first.click()
    expect(page.locator("#passage-title")).to_contain_text("nodejs-api-http.md")
    page.keyboard.press("Escape")
    page.screenshot(path=str(artifacts / "chat-quote-en-laptop.png"))
    check_conversations(page, browser, stack.base_url, artifacts)
    check_two_kbs(page, stack, artifacts)

    page.click("#tab-files")
    row = file_row(page, DOCS[1])
    row.get_by_role("button", name="Delete").click()
    page.click("#confirm-ok")
    expect(row).to_have_count(0)
    expect(page.locator("#file-rows tr")).to_have_count(1)
    assert [f["name"] for f in stack.client.files("manuals")] == [DOCS[0]]
    page.reload()
    expect(page.locator("#file-rows tr")).to_have_count(1)

    # Pick between knowledge bases, then delete them.
    page.click("#kb-new")
    page.fill("#kb-name", "scratch")
    page.press("#kb-name", "Enter")
    expect(page.locator("#kb-select")).to_have_value("scratch")
    expect(page.locator("#files-empty")).to_be_visible()
    page.select_option("#kb-select", "manuals")
    expect(page.locator("#file-rows tr")).to_have_count(1)
    page.click("#kb-delete")
    page.click("#confirm-ok")
    expect(page.locator("#kb-select")).to_have_value("scratch")
    page.click("#kb-delete")
    page.click("#confirm-ok")
    expect(page.locator("#view-empty")).to_be_visible()
    assert stack.client.http.get("/api/kbs").json()["kbs"] == []
    session.problems.assert_clean(allowed_errors=("status of 415",))


def test_a_chinese_question_is_answered_and_quoted_sentence_by_sentence(
    session: BrowserSession, stack: Stack, artifacts: Path
) -> None:
    client = stack.client
    client.create_kb("zh")
    client.upload("zh", [(name, (REPO / "tests" / "fixtures" / "zh" / name).read_bytes()) for name in ZH_DOCS])
    assert [f["status"] for f in client.wait_settled("zh", expected=len(ZH_DOCS))] == ["done"] * len(ZH_DOCS)
    page = session.page
    page.goto("/#/kb/zh/chat")
    expect(page.locator("#chat-kb")).to_have_text("zh")

    reply = ask_and_wait(page, ZH_QUESTION)
    check_sentences(page, reply, "zh")
    snapshot(page, artifacts, "chat-zh")

    quoted = ask_quoted(page, "zh", ZH_QUESTION)
    expect(quoted.locator(".answer")).to_contain_text("竹子")
    assert " [" not in quoted.locator(".answer").inner_text()
    quoted.locator(".answer button.cite").first.click()
    expect(page.locator("#passage-title")).to_contain_text("panda.md")
    page.keyboard.press("Escape")
    snapshot(page, artifacts, "chat-zh-quote")
    client.http.delete("/api/kbs/zh")
    session.problems.assert_clean()
