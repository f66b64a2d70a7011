"""Cutting answers into sentences (English, Chinese, markdown) and the model's [n] markers."""

from __future__ import annotations

import pytest

from kb_server.services.sentences import join_sentences, latin_full_stops, split_sentences, strip_markers

pytestmark = pytest.mark.unit


def texts(text: str) -> list[str]:
    return [p.text for p in split_sentences(text)]


def test_english_sentences_end_at_a_stop_followed_by_space() -> None:
    assert texts("Bees make honey. They fan it! Why? Evaporation.") == [
        "Bees make honey.",
        "They fan it!",
        "Why?",
        "Evaporation.",
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Copy a list by slicing, e.g. new = old[:], or with list().",
        "Use a view, i.e. a window onto the data.",
        "Apples, pears, etc. are fruit.",
        "Python 3.12 is faster than 3.11 here.",
        "Run setup.py install and read README.md first.",
        "Call `os.path.join(a, b). Then` it joins.",
        "G. van Rossum wrote it.",
    ],
)
def test_abbreviations_versions_file_names_and_code_do_not_end_a_sentence(sentence: str) -> None:
    assert texts(sentence) == [sentence]


def test_chinese_sentences_end_at_full_width_stops_and_semicolons() -> None:
    assert texts("大熊猫吃竹子。它们住在四川；也住在陕西！真的吗？是的") == [
        "大熊猫吃竹子。",
        "它们住在四川；",
        "也住在陕西！",
        "真的吗？",
        "是的",
    ]


def test_lines_bullets_and_code_blocks_are_boundaries_and_the_layout_is_kept() -> None:
    text = "Two ways:\n\n- Use copy(). It is shallow.\n- Use deepcopy()\n\n```\nx = 1. y = 2\n```\nDone."
    pieces = split_sentences(text)
    assert [(p.before, p.text) for p in pieces] == [
        ("", "Two ways:"),
        ("\n\n- ", "Use copy()."),
        (" ", "It is shallow."),
        ("\n- ", "Use deepcopy()"),
        ("\n\n", "```\nx = 1. y = 2\n```"),
        ("\n", "Done."),
    ]
    assert pieces[4].is_code
    assert join_sentences((p.before, p.text) for p in pieces) == text


def test_a_marker_after_the_stop_stays_with_its_sentence() -> None:
    assert texts("Bees make honey. [1] The queen lays eggs.[2] 熊猫吃竹子。[1]它们很可爱。") == [
        "Bees make honey. [1]",
        "The queen lays eggs.[2]",
        "熊猫吃竹子。[1]",
        "它们很可爱。",
    ]


@pytest.mark.parametrize(
    ("sentence", "clean", "cited"),
    [
        ("Bees make honey [1].", "Bees make honey.", [1]),
        ("Bees make honey.[1][2]", "Bees make honey.", [1, 2]),
        ("Bees make honey [1, 3].", "Bees make honey.", [1, 3]),
        ("Bees [2] make honey [2].", "Bees make honey.", [2]),
        ("熊猫吃竹子【1】。", "熊猫吃竹子。", [1]),
        ("熊猫吃竹子[1，2]。", "熊猫吃竹子。", [1, 2]),
        ("Index with `a[1]`, not a dict.", "Index with `a[1]`, not a dict.", []),
        ("No markers here.", "No markers here.", []),
    ],
)
def test_strip_markers_removes_the_models_markers_and_remembers_them(
    sentence: str, clean: str, cited: list[int]
) -> None:
    assert strip_markers(sentence) == (clean, cited)


@pytest.mark.parametrize(
    ("answer", "made_english"),
    [
        ("A new version comes out every 12 months。[1]", "A new version comes out every 12 months.[1]"),
        ("Use `pdb`。 It is built in (since 2.4)。", "Use `pdb`. It is built in (since 2.4)."),
        ("Python 3 是当前版本。", "Python 3 是当前版本。"),  # after Chinese text it stays
    ],
)
def test_an_english_answers_chinese_full_stops_after_latin_text_become_english(answer: str, made_english: str) -> None:
    assert latin_full_stops(answer) == made_english
    assert len(split_sentences(made_english)) == len(split_sentences(answer))
