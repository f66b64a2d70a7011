"""Build the configured LLM backend; backends are imported only when chosen."""

from __future__ import annotations

from typing import assert_never

from llm.base import LLM
from llm.settings import LLMSettings


def build_llm(settings: LLMSettings) -> LLM | None:
    """Create the backend named by ``settings.backend``.

    ``"none"`` gives ``None``: the server then answers with retrieval only.

    Raises:
        LLMNotInstalled: the backend's optional dependency is missing.
        LLMUnavailable: the local model file does not exist or cannot be loaded.
    """
    match settings.backend:
        case "llamacpp":
            from llm.llamacpp_backend import LlamaCppLLM

            return LlamaCppLLM(settings)
        case "openai":
            from llm.openai_backend import OpenAICompatibleLLM

            return OpenAICompatibleLLM(settings)
        case "none":
            return None
        case _:
            assert_never(settings.backend)
