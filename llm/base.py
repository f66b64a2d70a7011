"""The ``LLM`` protocol every backend implements.

Callers depend on this protocol only, so the local llama.cpp model and a remote
OpenAI-compatible server are interchangeable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

# OpenAI-style chat message: {"role": "system" | "user" | "assistant", "content": str}.
Message = dict[str, str]
# How a model is prompted (see llm.prompts): "brief" for tiny models, "fewshot" with worked examples.
PromptStyle = Literal["brief", "fewshot"]


@dataclass(frozen=True)
class Completion:
    """A finished, non-streamed generation."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    # "stop" (end of answer or a stop string), "length" (max_tokens reached), ...
    finish_reason: str | None


@runtime_checkable
class LLM(Protocol):
    """A chat model. Implementations must be safe to call from several threads."""

    name: str
    # The llm.preset this model answers as, and its prompt-style key for llm.prompts.
    preset: str
    prompt_style: PromptStyle

    def generate(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
    ) -> Completion:
        """Generate a whole answer; ``None`` arguments use the backend's settings.

        Raises:
            LLMUnavailable: the model or its server cannot be reached.
            LLMGenerationError: the backend failed to generate.
        """
        ...

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield the answer as text deltas.

        Exhaust or ``close()`` the iterator: it holds the model until then.

        Raises:
            LLMUnavailable: the model or its server cannot be reached.
            LLMGenerationError: the backend failed to generate.
        """
        ...

    def close(self) -> None:
        """Release the model or the HTTP connection pool."""
        ...
