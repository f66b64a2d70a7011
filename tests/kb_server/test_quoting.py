"""Quote mode and the one refusal signal, on real Python FAQ passages (English and Chinese)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from kb_server.schemas import Citation
from kb_server.services import attribution, chat, quoting
from kb_server.services.generation_pool import GenerationPool
from kb_server.services.metrics import ApiMetrics
from llm import NO_ANSWER

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _faq(path: str, starts: str) -> dict[str, str]:
    for line in (DATA / path).read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["question"].startswith(starts):
            return item
    raise LookupError(starts)


def _citation(n: int, text: str, score: float = 0.8) -> Citation:
    return Citation(n=n, chunk_id=n, chunk_ids=[n], file_id=1, file_name="faq.html", score=score, text=text)


def test_quote_takes_the_sentences_that_answer_from_the_passages_in_order() -> None:
    indent = _faq("python-faq/qa.jsonl", "Why does Python use indentation")
    other = _faq("python-faq/qa.jsonl", "Why are default values shared")
    citations = [_citation(1, indent["answer"]), _citation(2, other["answer"])]
    quoted = quoting.quote("Why does Python use indentation for grouping?", citations)
    assert 1 <= len(quoted) <= quoting.MAX_SENTENCES
    assert quoted[0].n == 1
    for s in quoted:
        assert s.text in citations[s.n - 1].text  # never a word that is not in a passage
    assert "indentation" in quoted[0].text.lower()
    text = attribution.from_quote(quoted).text
    assert text.endswith("]")
    assert "[1]" in text
    assert len(text) <= quoting.MAX_CHARS + 40


def test_quote_reads_chinese() -> None:
    item = json.loads((DATA / "python-faq-zh/qa.jsonl").read_text(encoding="utf-8").splitlines()[0])
    quoted = quoting.quote(item["question"], [_citation(1, item["answer"])])
    assert quoted
    assert all(s.text in item["answer"] for s in quoted)
    assert " [" not in attribution.from_quote(quoted).text  # Chinese sentences are joined without spaces


def _engine(metrics: ApiMetrics) -> chat.ChatEngine:
    return chat.ChatEngine(
        None, None, threading.BoundedSemaphore(1), 1.0, GenerationPool(1, 0), metrics, false_refusal_min_score=0.6
    )


def test_a_model_refusal_becomes_the_fixed_sentence_and_is_counted_when_a_passage_scored_high() -> None:
    metrics = ApiMetrics()
    engine = _engine(metrics)
    try:
        strong = chat.Prepared("Why indentation?", "en", [_citation(1, "Indentation groups statements.", 0.9)])
        done = chat.settle(engine, strong, "The passages do not mention it. [1]")
        assert (done.refused, done.refused_by, done.text) == (True, "model", NO_ANSWER["en"])
        weak = chat.Prepared("Why indentation?", "en", [_citation(1, "Unrelated.", 0.4)])
        assert chat.settle(engine, weak, "[1]").refused_by == "model"
        counted = metrics.registry.get_sample_value("kb_chat_suspected_false_refusals_total")
        assert counted == 1.0  # only the refusal with a high-scoring passage is suspect
        answered = chat.settle(engine, strong, "Indentation groups statements [1].")
        assert (answered.refused, answered.refused_by) == (False, None)
        invented = chat.settle(engine, strong, "The capital of France is Paris [1].")
        assert (invented.refused, invented.refused_by, invented.text) == (True, "unsupported", NO_ANSWER["en"])
        assert metrics.registry.get_sample_value("kb_chat_suspected_false_refusals_total") == 2.0
        partly = chat.settle(engine, strong, "Indentation groups statements. Paris is in France.")
        assert (partly.refused, partly.unsupported) == (False, 1)
        nothing = chat.Prepared("Why?", "zh", [])
        refused = chat.settle(engine, nothing, "")
        assert (refused.refused_by, refused.text) == ("threshold", NO_ANSWER["zh"])
    finally:
        engine.close()


def test_without_an_llm_generate_falls_back_to_quote() -> None:
    engine = _engine(ApiMetrics())
    try:
        assert engine.choose_mode(None) == ("quote", "no_llm")
        assert engine.choose_mode("quote") == ("quote", None)
    finally:
        engine.close()


def test_settled_answers_come_sentence_by_sentence_and_unsupported_ones_are_counted() -> None:
    metrics = ApiMetrics()
    engine = _engine(metrics)
    try:
        passage = _citation(1, "Indentation groups statements. There are no begin/end brackets.")
        prepared = chat.Prepared("Why indentation?", "en", [passage])
        done = chat.settle(engine, prepared, "Indentation groups the statements. It was invented by NASA engineers.")
        assert [(s.citations, s.unsupported) for s in done.sentences] == [([1], False), ([], True)]
        assert done.text == "Indentation groups the statements.[1] It was invented by NASA engineers."
        assert done.unsupported == 1
        sample = metrics.registry.get_sample_value
        assert sample("kb_chat_sentences_total", {"support": "unsupported"}) == 1.0
        assert sample("kb_chat_sentences_total", {"support": "supported"}) == 1.0

        quote = chat.Prepared("Why indentation?", "en", [passage], mode="quote")
        text = chat.quote_text(quote)
        quoted = chat.settle(engine, quote, text)
        assert quoted.text == text
        assert quoted.sentences
        assert all(s.citations == [1] and not s.unsupported for s in quoted.sentences)

        refused = chat.settle(engine, prepared, "I don't know.")
        assert (refused.refused, refused.sentences) == (True, [])
    finally:
        engine.close()


def test_an_answer_that_only_restates_the_question_is_answered_by_quoting_instead() -> None:
    engine = _engine(ApiMetrics())
    try:
        answer = "使用标准库的 random 模块，例如 random.random() 返回 0 到 1 之间的浮点数。"
        passage = _citation(1, f"如何生成随机数\n\n{answer}")
        prepared = chat.Prepared("如何在 Python 中生成随机数？", "zh", [passage])
        echoed = chat.settle(engine, prepared, "在 Python 中生成随机数 [1]。")
        assert (echoed.refused, echoed.mode, echoed.fallback) == (False, "quote", "restated")
        assert [(s.text, s.citations) for s in echoed.sentences] == [(answer, [1])]
        answered = chat.settle(engine, prepared, "使用 random 模块 [1]。")
        assert (answered.mode, answered.fallback) == ("generate", None)
    finally:
        engine.close()
