"""Build the configured LLM backend; backends are imported only when chosen."""

from __future__ import annotations

from pathlib import Path
from typing import assert_never

from llm.base import LLM
from llm.settings import LLMSettings


def build_llm(settings: LLMSettings, cache_dir: Path | None = None) -> LLM | None:
    """Create the backend named by ``settings.backend``.

    ``"none"`` gives ``None``: the server then answers with retrieval only. ``cache_dir`` (the
    caller's, unless ``settings.cache_dir``) is where a split preset is joined into one GGUF.

    Raises:
        LLMNotInstalled: the backend's optional dependency is missing.
        LLMUnavailable: the local model file does not exist, is not the pinned one, or cannot be loaded.
    """
    match settings.backend:
        case "llamacpp":
            from llm.llamacpp_backend import LlamaCppLLM

            return LlamaCppLLM(settings, cache_dir)
        case "openai":
            from llm.openai_backend import OpenAICompatibleLLM

            return OpenAICompatibleLLM(settings)
        case "none":
            return None
        case _:
            assert_never(settings.backend)
