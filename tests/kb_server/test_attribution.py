"""Citing each answer sentence from the passage that backs it, and flagging the ones none backs."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from kb_server.schemas import Citation
from kb_server.services import attribution
from kb_server.services.attribution import attribute, choose, from_quote
from kb_server.services.content_words import content_words
from kb_server.services.quoting import QuotedSentence
from kb_server.services.sentences import split_sentences, strip_markers
from tests.support.processes import REPO

pytestmark = pytest.mark.unit

FIXTURES = REPO / "tests" / "fixtures"
PAIRS = FIXTURES / "answers" / "support_pairs.jsonl"
# Measured at the shipped bar (see tests/fixtures/answers/README.md); the slack lets a small
# tokenizer change pass, not a bar that stopped telling supported sentences apart.
MEASURED = {"all": 0.957, "en": 0.966, "zh": 0.944}
MEASURED_JUDGE_SET = 0.916
SLACK = 0.03
# Answers of the judge's calibration set whose every sentence is (or is not) in the reference.
JUDGE_KINDS = {"paraphrase": True, "copy": True, "invented": False, "wrong_passage": False}

BEES = (
    "Worker bees collect nectar from flowers and store it in their honey stomach. Back in the hive they "
    "pass it to other bees, who chew it and fan it with their wings until most of the water evaporates "
    "and the nectar becomes honey."
)
QUEEN = "A colony has one queen. She lays up to 2,000 eggs a day during spring."
PANDA = (
    "大熊猫是食肉目动物，但它们的食物中百分之九十九是竹子。"
    "一只成年大熊猫每天要花十到十六个小时进食，吃掉十二到三十八公斤的竹子。"
)
TEA = "冲泡绿茶的水温以八十度左右为宜，水太烫会把嫩芽烫熟，使茶汤发苦。乌龙茶则适合用一百度的沸水冲泡。"


def _citation(n: int, text: str) -> Citation:
    return Citation(n=n, chunk_id=n, chunk_ids=[n], file_id=1, file_name="doc.md", score=0.8, text=text)


def test_each_sentence_cites_the_passage_that_holds_its_words() -> None:
    answer = "Worker bees collect nectar from flowers. The queen lays up to 2,000 eggs a day in spring."
    done = attribute(answer, [_citation(1, BEES), _citation(2, QUEEN)])
    assert [(s.citations, s.unsupported) for s in done.sentences] == [([1], False), ([2], False)]
    assert (
        done.text == "Worker bees collect nectar from flowers.[1] The queen lays up to 2,000 eggs a day in spring.[2]"
    )
    assert done.unsupported == 0


def test_a_sentence_no_passage_backs_is_flagged_and_left_uncited() -> None:
    answer = "Bees fan the nectar with their wings until the water evaporates. Honey never spoils, says an old tale."
    done = attribute(answer, [_citation(1, BEES), _citation(2, QUEEN)])
    assert [(s.citations, s.unsupported) for s in done.sentences] == [([1], False), ([], True)]
    assert done.text.endswith("says an old tale.")
    assert done.unsupported == 1


def test_the_models_markers_are_replaced_and_kept_only_where_the_passage_has_some_support() -> None:
    # [2] on the first sentence is wrong (the queen passage says nothing of nectar); [1] on the
    # second is right but is only half the story, [2] supports it better.
    answer = "Worker bees collect nectar [2]. The colony's queen lays 2,000 eggs a day [1][2]."
    done = attribute(answer, [_citation(1, BEES), _citation(2, QUEEN)])
    assert [s.text for s in done.sentences] == [
        "Worker bees collect nectar.",
        "The colony's queen lays 2,000 eggs a day.",
    ]
    assert [s.citations for s in done.sentences] == [[1], [2]]
    assert "[" not in "".join(s.text for s in done.sentences)


def test_a_second_passage_is_cited_when_it_also_clears_the_bar_and_adds_words() -> None:
    words = content_words("Bees chew nectar and the queen lays eggs")
    passages = {1: content_words(BEES + " queen"), 2: content_words(QUEEN + " nectar chew")}
    assert choose(words, passages, []) == ([1, 2], True)
    same = {1: content_words(BEES), 2: content_words(BEES)}
    assert choose(content_words("Worker bees collect nectar"), same, []) == ([1], True)


def test_short_sentences_are_neither_cited_nor_flagged_unless_the_model_cited_them() -> None:
    done = attribute("Yes. Worker bees collect nectar from flowers. Here is how: [1]", [_citation(1, BEES)])
    assert [(s.text, s.citations, s.unsupported) for s in done.sentences] == [
        ("Yes.", [], False),
        ("Worker bees collect nectar from flowers.", [1], False),
        ("Here is how:", [1], False),
    ]


def test_markers_on_a_line_of_their_own_and_layout_survive_and_a_lead_in_is_not_flagged() -> None:
    answer = "Two steps:\n\n- Worker bees collect nectar from flowers.\n- They fan it with their wings\n[1]"
    done = attribute(answer, [_citation(1, BEES)])
    assert [(s.before, s.citations, s.unsupported) for s in done.sentences] == [
        ("", [], False),
        ("\n\n- ", [1], False),
        ("\n- ", [1], False),
    ]
    assert done.text == "Two steps:\n\n- Worker bees collect nectar from flowers.[1]\n- They fan it with their wings[1]"


def test_chinese_sentences_are_cited_without_a_space_before_the_marker() -> None:
    answer = "成年大熊猫每天要吃十二到三十八公斤竹子。泡绿茶的水温在八十度左右。熊猫每年冬天要冬眠三个月。"
    done = attribute(answer, [_citation(1, PANDA), _citation(2, TEA)])
    assert [(s.citations, s.unsupported) for s in done.sentences] == [([1], False), ([2], False), ([], True)]
    assert (
        done.text
        == "成年大熊猫每天要吃十二到三十八公斤竹子。[1]泡绿茶的水温在八十度左右。[2]熊猫每年冬天要冬眠三个月。"
    )


def test_a_quote_is_supported_by_construction() -> None:
    done = from_quote(
        [QuotedSentence("A colony has one queen.", 2), QuotedSentence("熊猫吃竹子。", 1), QuotedSentence("又一句。", 1)]
    )
    assert all(not s.unsupported for s in done.sentences)
    assert [s.citations for s in done.sentences] == [[2], [1], [1]]
    assert done.text == "A colony has one queen.[2] 熊猫吃竹子。[1]又一句。[1]"


# --- the support bar against hand labels ---------------------------------------------------------


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _passage(ref: dict, shared_data: Path) -> str:
    if "fixture" in ref:
        return (FIXTURES / ref["fixture"]).read_text(encoding="utf-8")
    rows = _lines(shared_data / ref["set"] / "qa.jsonl")
    return next(r["answer"] for r in rows if r["question"] == ref["question"])


@pytest.fixture(scope="module")
def pairs(shared_data: Path) -> list[tuple[dict, str]]:
    return [(row, _passage(row["passage"], shared_data)) for row in _lines(PAIRS)]


def _lang(row: dict) -> str:
    return "zh" if "fixture" in row["passage"] or row["passage"]["set"].endswith("-zh") else "en"


def _agreement(pairs: list[tuple[dict, str]], bar: float) -> dict[str, float]:
    hits: dict[str, list[bool]] = defaultdict(list)
    for row, passage in pairs:
        words = content_words(row["sentence"])
        supported = len(words) < attribution.MIN_WORDS or attribution.support(words, content_words(passage)) >= bar
        agrees = supported == row["supported"]
        for key in ("all", _lang(row), f"{_lang(row)} {row['kind']}"):
            hits[key].append(agrees)
    return {key: sum(flags) / len(flags) for key, flags in hits.items()}


def test_the_labelled_pairs_cover_both_languages_and_both_answers(pairs: list[tuple[dict, str]]) -> None:
    for lang in ("en", "zh"):
        labels = [row["supported"] for row, _ in pairs if _lang(row) == lang]
        assert sum(labels) >= 15
        assert len(labels) - sum(labels) >= 15


def test_the_support_bar_agrees_with_the_hand_labels(pairs: list[tuple[dict, str]]) -> None:
    agreement = _agreement(pairs, attribution.SUPPORT_BAR)
    for key in sorted(agreement):
        print(f"agreement {key:24s} {agreement[key]:.3f}")
    sweep = {t / 100: _agreement(pairs, t / 100)["all"] for t in range(20, 91, 5)}
    print(" ".join(f"{t:.2f}:{a:.3f}" for t, a in sweep.items()))
    for key, measured in MEASURED.items():
        assert agreement[key] >= measured - SLACK, key
    assert agreement["all"] >= max(sweep.values()) - 0.02


@pytest.fixture(scope="module")
def judge_sentences(shared_data: Path) -> list[tuple[float, bool]]:
    """(support by the reference, label) of each sentence of the judge set's clear-cut answers."""
    references: dict[tuple[str, str, str], str] = {}
    for name in ("python-faq", "python-faq-zh"):
        for row in _lines(shared_data / name / "qa.jsonl"):
            references.setdefault((name, row["file"], row["question"]), row["answer"])
    out: list[tuple[float, bool]] = []
    for ex in _lines(FIXTURES / "answers" / "judge_calibration.jsonl"):
        if ex["kind"] not in JUDGE_KINDS:
            continue
        passage = content_words(references[(ex["set"], ex["file"], ex["question"])])
        for piece in split_sentences(ex["answer"]):
            words = content_words(strip_markers(piece.text)[0])
            if len(words) >= attribution.MIN_WORDS:
                out.append((attribution.support(words, passage), JUDGE_KINDS[ex["kind"]]))
    return out


def test_the_support_bar_agrees_with_the_sentences_of_the_judges_labelled_answers(
    judge_sentences: list[tuple[float, bool]],
) -> None:
    def agreement(bar: float) -> float:
        return sum((score >= bar) == label for score, label in judge_sentences) / len(judge_sentences)

    print(f"judge-set sentences {len(judge_sentences)}: agreement {agreement(attribution.SUPPORT_BAR):.3f}")
    print(" ".join(f"{t / 100:.2f}:{agreement(t / 100):.3f}" for t in range(20, 91, 5)))
    assert agreement(attribution.SUPPORT_BAR) >= MEASURED_JUDGE_SET - SLACK
