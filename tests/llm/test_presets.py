"""The installed default preset, for real: its six part wheels joined, verified, loaded and asked.

The joined 491 MB file lives in the machine's shared test cache (``tests.support.processes``), so
only the first run of the day pays for the join (~3 s) and the hash; later runs check a stamp.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm import LLM, LLMSettings
from llm.llamacpp_backend import LlamaCppLLM
from llm.model_files import ensure_model_file, file_status
from llm.presets import PRESETS, ModelFile
from tests.support.processes import SHARED_MODELS

pytestmark = pytest.mark.integration

QWEN = PRESETS["qwen-coder-0.5b"]
SHARED_CACHE = SHARED_MODELS.parent


def _qwen_file() -> ModelFile:
    assert QWEN.file is not None
    return QWEN.file


@pytest.fixture(scope="session")
def qwen_gguf() -> Path:
    return ensure_model_file(_qwen_file(), SHARED_CACHE)


def test_the_default_preset_is_qwen_coder_05b() -> None:
    assert LLMSettings().preset == "qwen-coder-0.5b"
    assert LLMSettings().resolved_n_ctx() == QWEN.n_ctx


@pytest.mark.slow
def test_the_installed_parts_join_into_the_pinned_file(qwen_gguf: Path) -> None:
    assert qwen_gguf == SHARED_MODELS / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert qwen_gguf.stat().st_size == 491_400_064
    with qwen_gguf.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
    status = file_status(_qwen_file(), SHARED_CACHE)
    assert (status.state, status.verified, status.missing) == ("ready", True, ())
    started = time.monotonic()
    assert ensure_model_file(_qwen_file(), SHARED_CACHE) == qwen_gguf
    assert time.monotonic() - started < 0.5  # a stat and a stamp, not a 491 MB hash


@pytest.fixture(scope="module")
def qwen(qwen_gguf: Path) -> Iterator[LlamaCppLLM]:
    llm = LlamaCppLLM(LLMSettings(max_tokens=16, temperature=0.0), cache_dir=SHARED_CACHE)
    yield llm
    llm.close()


@pytest.mark.slow
def test_qwen_answers_a_one_line_question(qwen: LlamaCppLLM) -> None:
    assert isinstance(qwen, LLM)
    assert qwen.name == "llamacpp:qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert (qwen.preset, qwen.prompt_style) == ("qwen-coder-0.5b", "fewshot")
    completion = qwen.generate([{"role": "user", "content": "What is the capital of France? One word."}])
    assert "paris" in completion.text.lower()
    assert "<|im_end|>" not in completion.text
    assert completion.finish_reason == "stop"


@pytest.mark.slow
def test_qwen_is_prompted_with_the_template_inside_its_gguf(qwen: LlamaCppLLM) -> None:
    llama = qwen._llama
    template = llama.metadata["tokenizer.chat_template"]
    assert "<|im_start|>" in template
    # No chat_format given: llama-cpp-python picks the GGUF's own template ("chatml" when it
    # recognises it, else a Jinja formatter of the template itself).
    assert llama.chat_format in ("chatml", "chat_template.default")


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@pytest.mark.slow
def test_every_question_starts_with_the_tokens_the_warm_up_evaluated(qwen: LlamaCppLLM) -> None:
    """llama.cpp skips the longest prefix a prompt shares with the tokens in its KV cache, so the
    fixed system prompt and examples are evaluated once, whatever the question or its language."""
    from llm.prompts import Passage, build_rag_messages

    llama = qwen._llama
    qwen.warm_up()
    warmed = list(llama._input_ids)
    assert len(warmed) > 300  # the system prompt and the worked examples
    passages = [Passage(1, "The rear cover opens with the blue lever.", "manual.pdf")]
    seen = warmed
    for question in ("How do I open the rear cover?", "后盖怎么打开？"):
        qwen.generate(build_rag_messages(question, passages, style="fewshot"), max_tokens=1)
        prompt = list(llama._input_ids)
        # All but the warm-up's own "<|im_start|>assistant" opening (and its one generated token).
        assert _common_prefix(seen, prompt) >= len(warmed) - 4
        seen = prompt


@pytest.mark.slow
def test_an_answer_after_a_question_rewrite_still_skips_the_warmed_prefix(qwen: LlamaCppLLM) -> None:
    """A rewrite prompt shares nothing with the answer prompts, so it replaces the warmed KV cache;
    the warm-up's saved state is loaded back before the next answer instead of evaluating it again."""
    from llm.prompts import Passage, build_rag_messages
    from llm.rewrite_prompts import build_rewrite_messages

    llama = qwen._llama
    qwen.warm_up()
    warmed = len(llama._input_ids)
    history = [
        {"role": "user", "content": "How do I open the rear cover?"},
        {"role": "assistant", "content": "Lift it."},
    ]
    qwen.generate(build_rewrite_messages("and the front one?", history, "fewshot"), max_tokens=4)
    evaluated: list[int] = []
    real_eval = llama.eval

    def counting_eval(tokens: Any) -> None:
        evaluated.append(len(tokens))
        real_eval(tokens)

    llama.eval = counting_eval  # type: ignore[method-assign]
    try:
        qwen.generate(
            build_rag_messages(
                "How do I open the front cover?", [Passage(1, "Pull the tab.", "m.pdf")], style="fewshot"
            ),
            max_tokens=1,
        )
    finally:
        llama.eval = real_eval  # type: ignore[method-assign]
    prompt = len(llama._input_ids)
    assert sum(evaluated) < prompt - warmed + 8  # only the question's own tokens (and the one generated)
