"""Passages cut to the prompt's token budget (pure functions)."""

from __future__ import annotations

import pytest

from kb_server.services.passage_fit import GAP, estimate_tokens, fit_passages

pytestmark = pytest.mark.unit

FAQ = (
    "How do I make a Python script executable on Unix?\n"
    "You need to do two things: the script file's mode must be executable. "
    "The first line must begin with #! followed by the path of the Python interpreter. "
    "The first is done by executing chmod +x scriptfile. "
    "The second can be done in a number of ways. "
    "The most straightforward way is to write the full path of the interpreter. "
    + " ".join(f"Filler sentence number {i} about something else entirely." for i in range(40))
)


def test_whole_passages_when_they_fit_or_no_budget() -> None:
    texts = ["Short one.", "Another short one."]
    assert fit_passages("anything", texts, 1000) == texts
    assert fit_passages("anything", [FAQ], 0) == [FAQ]


def test_long_passage_keeps_heading_and_the_sentences_from_the_best_match_on() -> None:
    (cut,) = fit_passages("how do i use chmod", [FAQ], 60)
    assert estimate_tokens(cut) <= 60
    assert cut.startswith("How do I make a Python script executable on Unix?")
    assert "chmod +x scriptfile" in cut
    assert "Filler sentence number 39" not in cut
    assert GAP.strip() in cut  # sentences between the heading and the match were left out


def test_budget_is_shared_best_first_and_unused_room_passes_on() -> None:
    long = [FAQ, FAQ, FAQ]
    cuts = fit_passages("chmod script", long, 300)
    sizes = [estimate_tokens(c) for c in cuts]
    assert sum(sizes) <= 300 + len(cuts)
    assert sizes[0] > sizes[2]
    small_first = fit_passages("chmod script", ["Tiny.", FAQ], 200)
    assert small_first[0] == "Tiny."
    assert estimate_tokens(small_first[1]) > 150  # the tiny passage's unused share went to the next


def test_chinese_is_counted_per_character() -> None:
    zh = "如何让 Python 脚本可以执行？" + "这是一句无关的话。" * 200 + "使用 chmod +x 命令。"
    (cut,) = fit_passages("chmod 命令怎么用", [zh], 80)
    assert estimate_tokens(cut) <= 80
    assert "chmod" in cut
    assert estimate_tokens("你好世界") == 3
