"""Answers in the page, against a faked API: sentence by sentence with their [n] buttons, unsupported
sentences marked, the Quote only option and the line saying what produced an answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.ui.conftest import BrowserSession, UiOnlyServer, open_session
from tests.ui.fake_api import CITATION, FakeApi, ask, sse

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def session(browser: Browser, ui_server: UiOnlyServer) -> Iterator[BrowserSession]:
    opened = open_session(browser, ui_server.origin)
    try:
        yield opened
    finally:
        opened.context.close()


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
        sse(
            ("citations", {"citations": [CITATION]}),
            ("token", {"delta": "Paris is the capital of France."}),
            (
                "done",
                _done("The knowledge base has no answer to this question.", [], refused=True, refused_by="unsupported"),
            ),
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
    ask(page, "and france?")
    reply = page.locator("#messages li.assistant").last
    expect(reply.locator(".mode-note")).to_have_text(
        "The model's answer was not found in the passages, so it is not shown."
    )
    expect(reply.locator(".answer")).to_have_text("The knowledge base has no answer to this question.")

    page.reload()  # the sentences are kept with the conversation
    expect(page.locator("#messages li.assistant").first.locator(".answer .sentence.unsupported")).to_have_count(2)
    unsafe = "img, svg, script, a, b, i, iframe"
    assert page.locator(f"#messages :is({unsafe})").count() == 0
    assert page.evaluate("window.__xss") is None
    session.problems.assert_clean()
