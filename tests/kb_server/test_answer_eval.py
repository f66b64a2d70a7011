"""The answer judge against hand labels, and what the evaluator makes of a chat response."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from kb_server.cli.main import main
from kb_server.services import answer_eval
from kb_server.services.answer_eval import AnswerRecord, assess, format_table, judge, summarise
from llm import NO_ANSWER
from tests.support.processes import REPO, free_port

pytestmark = pytest.mark.unit

CALIBRATION = REPO / "tests" / "fixtures" / "answers" / "judge_calibration.jsonl"
# Measured on the calibration set at the shipped threshold (see the fixture's README); the slack
# lets a small tokenizer change pass, not a judge that stopped telling answers apart.
MEASURED = {"all": 0.957, "python-faq": 0.941, "python-faq-zh": 0.976, "hand": 0.942}
SLACK = 0.03


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def labelled(shared_data: Path) -> list[tuple[dict, str]]:
    """Each calibration example with its reference answer, looked up in the shared QA sets."""
    references: dict[tuple[str, str, str], str] = {}
    for name in ("python-faq", "python-faq-zh"):
        for row in _lines(shared_data / name / "qa.jsonl"):
            references.setdefault((name, row["file"], row["question"]), row["answer"])
    return [(ex, references[(ex["set"], ex["file"], ex["question"])]) for ex in _lines(CALIBRATION)]


def _agreement(labelled: list[tuple[dict, str]], threshold: float) -> dict[str, float]:
    hits: dict[str, list[bool]] = defaultdict(list)
    for ex, reference in labelled:
        verdict = judge(ex["answer"], reference, ex["question"])
        agrees = (verdict.tokens >= answer_eval.MIN_CONTENT_TOKENS and verdict.score >= threshold) == ex["on_target"]
        hits["all"].append(agrees)
        hits[ex["set"]].append(agrees)
        hits[ex["source"]].append(agrees)
        hits[f"{ex['set']} {ex['kind']}"].append(agrees)
    return {key: sum(flags) / len(flags) for key, flags in hits.items()}


def test_the_calibration_set_covers_both_languages_and_every_kind(labelled: list[tuple[dict, str]]) -> None:
    kinds = {(ex["set"], ex["kind"]) for ex, _ in labelled}
    for name in ("python-faq", "python-faq-zh"):
        assert {k for s, k in kinds if s == name} >= {"paraphrase", "partial", "copy", "wrong_passage", "invented"}
    assert sum(ex["on_target"] for ex, _ in labelled) >= 20
    assert sum(not ex["on_target"] for ex, _ in labelled) >= 20


def test_the_judge_agrees_with_the_hand_labels(labelled: list[tuple[dict, str]]) -> None:
    agreement = _agreement(labelled, answer_eval.JUDGE_THRESHOLD)
    for key in sorted(agreement):
        print(f"agreement {key:32s} {agreement[key]:.3f}")
    for key, measured in MEASURED.items():
        assert agreement[key] >= measured - SLACK, key


def test_the_shipped_threshold_is_as_good_as_any(labelled: list[tuple[dict, str]]) -> None:
    sweep = {t / 100: _agreement(labelled, t / 100)["all"] for t in range(20, 91, 5)}
    print(" ".join(f"{t:.2f}:{a:.3f}" for t, a in sweep.items()))
    assert _agreement(labelled, answer_eval.JUDGE_THRESHOLD)["all"] >= max(sweep.values()) - 0.01


def test_clear_cases(shared_data: Path) -> None:
    qa = {row["question"]: row["answer"] for row in _lines(shared_data / "python-faq" / "qa.jsonl")}
    question = "How do I copy an object in Python?"
    right = "Try copy.copy() or copy.deepcopy(); a dictionary has a copy() method, a list can be sliced [1]."
    assert judge(right, qa[question], question).on_target
    assert not judge(right, qa[question], question, refused=True).on_target
    assert not judge("[1]", qa[question], question).on_target
    assert not judge("You can copy an object in Python [1].", qa[question], question).on_target  # the question back
    assert not judge("Pickle it to a file and load it back from disk [2].", qa[question], question).on_target
    zh = {row["question"]: row["answer"] for row in _lines(shared_data / "python-faq-zh" / "qa.jsonl")}
    question = "怎样复制文件？"
    assert judge("用 shutil 模块的 copyfile 函数 [1]。", zh[question], question).on_target
    assert not judge("用 os.system 调用 cp 命令复制 [1]。", zh[question], question).on_target


CITATIONS = [{"n": 1, "text": "..."}, {"n": 2, "text": "..."}]


def test_a_grounded_response_is_read_from_its_sentences() -> None:
    response = {
        "answer": "Use copy.copy() [1]. Or ask a friend.",
        "citations": CITATIONS,
        "sentences": [
            {"text": "Use copy.copy().", "citations": [1], "unsupported": False},
            {"text": "Or ask a friend.", "citations": [], "unsupported": True},
        ],
        "refused": False,
        "refused_by": None,
        "mode": "generate",
    }
    record = assess(response, "q", "use copy.copy()", kind="qa", ttft_s=0.5, total_s=1.0, tokens=9)
    assert (record.cites, record.supported_share, record.refused, record.mode) == (True, 0.5, False, "generate")
    response["sentences"][0]["citations"] = [7]  # not among the citations
    assert not assess(response, "q", None, kind="offtopic", ttft_s=None, total_s=1.0, tokens=0).cites


def test_an_older_response_without_sentences_cites_through_its_markers() -> None:
    response = {"answer": "Use copy.copy() [2].", "citations": CITATIONS, "refused": False}
    record = assess(response, "q", "ref", kind="qa", ttft_s=0.1, total_s=0.2, tokens=3, mode="generate")
    assert (record.cites, record.supported_share, record.refused_by, record.mode) == (True, None, None, "generate")
    response["answer"] = "Use copy.copy() [3]."
    assert not assess(response, "q", "ref", kind="qa", ttft_s=0.1, total_s=0.2, tokens=3).cites


def test_refusals_are_told_apart() -> None:
    by_threshold = {"answer": NO_ANSWER["en"], "citations": [], "refused": True}
    assert answer_eval.refusal(by_threshold) == (True, "threshold")
    said_by_model = {"answer": NO_ANSWER["zh"] + " [1]", "citations": CITATIONS, "refused": False}
    assert answer_eval.refusal(said_by_model) == (True, "model")
    reported = {"answer": NO_ANSWER["en"], "citations": CITATIONS, "refused": True, "refused_by": "model"}
    assert answer_eval.refusal(reported) == (True, "model")
    answered = {"answer": "Yes.", "citations": CITATIONS, "refused": False, "refused_by": None}
    assert answer_eval.refusal(answered) == (False, None)


def _record(kind: str = "qa", **fields: object) -> AnswerRecord:
    base: dict = {
        "kind": kind,
        "question": "q",
        "reference": "r" if kind == "qa" else None,
        "answer": "a",
        "on_target": True if kind == "qa" else None,
        "judge_score": 1.0,
        "supported_share": None,
        "cites": True,
        "refused": False,
        "refused_by": None,
        "mode": "generate",
        "ttft_s": 1.0,
        "total_s": 2.0,
        "tokens": 10,
    }
    return AnswerRecord(**{**base, **fields})


def test_the_summary_counts_what_it_says() -> None:
    records = [
        _record(ttft_s=1.0, supported_share=1.0),
        _record(ttft_s=3.0, on_target=False, cites=False, supported_share=0.5),
        _record(ttft_s=0.5, on_target=False, cites=False, refused=True, refused_by="model", tokens=12),
        _record("offtopic", ttft_s=0.01, refused=True, refused_by="threshold", cites=False, tokens=1),
        _record("offtopic", ttft_s=2.0, cites=True),
        answer_eval.failed("q", "r", "qa", "llm_busy: busy", 30.0),
    ]
    s = summarise(records)
    assert (s.n, s.n_offtopic, s.errors) == (3, 2, 1)
    assert s.on_target == pytest.approx(1 / 3)
    assert s.cited == pytest.approx(1 / 2)  # of the answers not refused
    assert s.supported == pytest.approx(0.75)
    assert s.false_refusals == pytest.approx(1 / 3)
    assert s.offtopic_refused == pytest.approx(1 / 2)
    assert (s.ttft_p50, s.ttft_p90) == (2.0, 3.0)  # the threshold refusal's 0.01 s is left out
    assert s.tokens_per_answer == pytest.approx(10)
    table = format_table([("generate", s)]).splitlines()
    assert table[0].split()[:4] == ["run", "n", "on-target", "cited"]
    assert table[1].split()[:7] == ["generate", "3", "33.3%", "50.0%", "75.0%", "33.3%", "2"]
    empty = format_table([("none", summarise([]))]).splitlines()[1].split()
    assert empty[1:4] == ["0", "-", "-"]


def test_the_answers_mode_checks_its_options_and_reports_an_unreachable_server(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "q", "answer": "a"}\n', encoding="utf-8")
    common = ["eval", "--data-dir", str(tmp_path / "data"), "--kb", "k"]
    assert main([*common, "--answers", str(qa), "--mode", "hybrid"]) == 2
    assert main([*common, "--qa", str(qa), "--mode", "quote"]) == 2
    unreachable = f"http://127.0.0.1:{free_port()}"
    assert main([*common, "--answers", str(qa), "--url", unreachable]) == 1
    with pytest.raises(httpx.ConnectError):  # retrieval mode as before: on to the server
        main([*common, "--qa", str(qa), "--url", unreachable])
