"""`kb-server ask` prints the cited answer, unsupported sentences marked."""

from __future__ import annotations

import pytest

from kb_server.cli.ask import DIM, RESET, cited_answer

pytestmark = pytest.mark.unit

DONE = {
    "answer": "Bees make honey.[1] Honey never spoils.",
    "sentences": [
        {"text": "Bees make honey.", "citations": [1], "unsupported": False, "before": ""},
        {"text": "Honey never spoils.", "citations": [], "unsupported": True, "before": " "},
        {"text": "熊猫吃竹子。", "citations": [1, 2], "unsupported": False, "before": "\n- "},
    ],
}


def test_unsupported_sentences_are_marked_in_plain_text_and_dimmed_on_a_terminal() -> None:
    assert (
        cited_answer(DONE, color=False) == "Bees make honey.[1] Honey never spoils. (unsupported)\n- 熊猫吃竹子。[1][2]"
    )
    assert f"{DIM}Honey never spoils.{RESET} (unsupported)" in cited_answer(DONE, color=True)


def test_an_answer_without_sentences_is_printed_as_it_came() -> None:
    assert cited_answer({"answer": "The knowledge base has no answer to this question.", "sentences": []}, False) == (
        "The knowledge base has no answer to this question."
    )
