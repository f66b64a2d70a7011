"""A conversation without a title is named after its first question, on one line, cut at a word."""

from __future__ import annotations

import pytest

from kb_server.services.conversations import TITLE_CHARS, default_title

pytestmark = pytest.mark.unit


def test_a_short_question_is_the_title_on_one_line() -> None:
    assert default_title("  How do I\n copy   a list? ") == "How do I copy a list?"


def test_a_long_question_is_cut_at_a_word_and_marked() -> None:
    question = "How do I install a source package and then build it with all the optional extensions enabled?"
    title = default_title(question)
    assert len(title) <= TITLE_CHARS
    assert title.endswith("…")
    assert question.startswith(title[:-1])
    assert question[len(title) - 1] == " "  # the cut falls between words


def test_a_long_word_is_cut_where_it_must() -> None:
    title = default_title("如何" * 50)
    assert len(title) == TITLE_CHARS
    assert title.endswith("…")
