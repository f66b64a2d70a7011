"""Pluggable chat LLMs for kb-server.

A local GGUF through llama.cpp, or any OpenAI-compatible server.

A leaf package: it imports nothing from ``kb_server``, ``ingestion`` or ``vectorstore``.
Backends are imported lazily by :func:`build_llm`, so importing ``llm`` needs no extra.
"""

from llm.base import LLM, Completion, Message
from llm.errors import (
    LLMBusy,
    LLMError,
    LLMGenerationError,
    LLMNotInstalled,
    LLMUnavailable,
)
from llm.factory import build_llm
from llm.prompts import (
    NO_ANSWER,
    Language,
    Passage,
    build_rag_messages,
    detect_language,
)
from llm.settings import LLMSettings, OpenAISettings

__all__ = [
    "LLM",
    "NO_ANSWER",
    "Completion",
    "LLMBusy",
    "LLMError",
    "LLMGenerationError",
    "LLMNotInstalled",
    "LLMSettings",
    "LLMUnavailable",
    "Language",
    "Message",
    "OpenAISettings",
    "Passage",
    "build_llm",
    "build_rag_messages",
    "detect_language",
]
