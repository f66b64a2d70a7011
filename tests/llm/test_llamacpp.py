"""The real bundled SmolLM2 GGUF through ``LlamaCppLLM`` (greedy decoding, deterministic)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm import LLM, LLMSettings, LLMUnavailable, Passage, build_llm, build_rag_messages
from llm.llamacpp_backend import LlamaCppLLM

pytestmark = pytest.mark.integration

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
STORY = [{"role": "user", "content": "Write a short story about a cat who sails."}]


@pytest.fixture(scope="module")
def model(bundled_gguf: str) -> Iterator[LlamaCppLLM]:
    llm = LlamaCppLLM(LLMSettings(model_path=bundled_gguf, n_ctx=2048, max_tokens=48, temperature=0.0))
    yield llm
    llm.close()


def test_default_settings_load_the_bundled_model(model: LlamaCppLLM) -> None:
    assert isinstance(model, LLM)
    assert model.name == "llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf"


def test_generate_returns_text(model: LlamaCppLLM) -> None:
    completion = model.generate(QUESTION)
    assert completion.text.strip()
    assert completion.prompt_tokens > 0
    assert 0 < completion.completion_tokens <= 48
    assert completion.finish_reason in ("stop", "length")


def test_stream_yields_deltas_that_join_to_the_answer(model: LlamaCppLLM) -> None:
    deltas = list(model.stream(QUESTION))
    assert len(deltas) >= 3
    assert all(deltas)
    assert "".join(deltas) == model.generate(QUESTION).text


def test_max_tokens_is_honoured(model: LlamaCppLLM) -> None:
    completion = model.generate(STORY, max_tokens=5)
    assert completion.completion_tokens == 5
    assert completion.finish_reason == "length"
    assert 1 <= len(list(model.stream(STORY, max_tokens=5))) <= 5


def test_stop_is_honoured(model: LlamaCppLLM) -> None:
    full = model.generate(STORY, max_tokens=40).text
    stop_word = full.split()[len(full.split()) // 2]
    stopped = model.generate(STORY, max_tokens=40, stop=[stop_word])
    assert stopped.finish_reason == "stop"
    assert stop_word not in stopped.text
    assert full.startswith(stopped.text)
    assert "".join(model.stream(STORY, max_tokens=40, stop=[stop_word])) == stopped.text


def test_concurrent_calls_are_serialised(model: LlamaCppLLM) -> None:
    expected = model.generate(QUESTION).text
    results: list[str] = []

    def ask() -> None:
        results.append(model.generate(QUESTION).text)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [expected] * 3


def test_easy_rag_lookup(model: LlamaCppLLM) -> None:
    passages = [
        Passage(n=1, text="Zorbania's capital city is Quilltown.", source="atlas.md"),
        Passage(n=2, text="The GIL lets one thread run at a time.", source="faq.html"),
    ]
    answer = model.generate(build_rag_messages("What is the capital of Zorbania?", passages))
    assert "Quilltown" in answer.text


def test_missing_model_file_is_unavailable(tmp_path: Path) -> None:
    missing = f"{tmp_path}/nope.gguf"
    with pytest.raises(LLMUnavailable, match=r"nope\.gguf"):
        build_llm(LLMSettings(backend="llamacpp", model_path=missing))
