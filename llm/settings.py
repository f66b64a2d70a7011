"""The ``llm`` section of kb-server's settings.

Plain pydantic models: ``kb_server`` composes them into its root settings and loads
YAML/env; this package only receives an ``LLMSettings`` instance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from llm.presets import PRESETS, Preset, PresetName


class OpenAISettings(BaseModel):
    """Where the OpenAI-compatible server is (Ollama, vLLM, llama.cpp server)."""

    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "default"
    api_key: str | None = None
    timeout_s: float = 60.0


class LLMSettings(BaseModel):
    """Which LLM answers questions, and how it generates."""

    backend: Literal["llamacpp", "openai", "none"] = "llamacpp"
    preset: PresetName = Field(
        default="qwen-coder-0.5b",
        description="the model (llm.presets); with model_path set it only supplies n_ctx, stop strings, prompt style",
    )
    model_path: str | None = Field(default=None, description="a GGUF file; null = the preset's, from its packages")
    n_ctx: int | None = Field(default=None, ge=256, description="null = the preset's")
    cache_dir: Path | None = Field(
        default=None, description="where split presets are joined into one GGUF; null = the caller's (data dir cache)"
    )
    n_threads: int = 2
    adapt_threads: bool = Field(
        default=True, description="use fewer than n_threads while other processes keep cores busy (llm.threads)"
    )
    max_tokens: int = 512
    temperature: float = 0.1
    # Small local models loop without it ("The answer is: The answer is: ...").
    repeat_penalty: float = Field(default=1.15, ge=1.0, le=2.0)
    # Read by the server: llama.cpp runs one generation at a time per loaded model.
    max_concurrent: int = 1
    queue_timeout_s: float = 30.0
    openai: OpenAISettings = Field(default_factory=OpenAISettings)

    @model_validator(mode="after")
    def _custom_needs_a_file(self) -> LLMSettings:
        if self.backend == "llamacpp" and self.preset == "custom" and not self.model_path:
            raise ValueError("llm.preset custom needs llm.model_path (KB_LLM__MODEL_PATH), a GGUF file")
        return self

    def resolved_preset(self) -> Preset:
        return PRESETS[self.preset]

    def resolved_n_ctx(self) -> int:
        return self.n_ctx or self.resolved_preset().n_ctx
