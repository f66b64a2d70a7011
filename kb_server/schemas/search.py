"""Searching knowledge bases."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from kb_server.schemas.kbs import KBChoice


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    context: str | None = Field(
        default=None,
        max_length=4000,
        description="words from earlier turns a follow-up leans on (`POST /api/chat/standalone` gives them): "
        "searched with `query`, weighted together as `search.context_share` of it in keyword search",
    )
    top_k: int = Field(default=5, ge=1, le=100)
    score_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="drop results scoring below this (0..1, higher is better)"
    )
    mode: Literal["dense", "keyword", "hybrid"] | None = Field(
        default=None, description="retriever; default `search.mode` (hybrid)"
    )
    tokenizer: Literal["auto", "simple"] | None = Field(
        default=None, description="keyword tokenizer, for evaluations; default `ingestion.keyword_tokenizer`"
    )
    rerank: bool | None = Field(
        default=None,
        description="re-order the best results with the configured cross-encoder (`rerank.model`); "
        "default: when one is configured. `true` without one is an error",
    )


class SearchHit(BaseModel):
    chunk_id: int
    text: str
    score: float = Field(description="0..1, higher is better: cosine, scaled BM25, or their weighted mean")
    rerank_score: float | None = Field(
        default=None,
        description="0..1, the cross-encoder's relevance (sigmoid of its output) when this hit was reranked; "
        "reranked hits come first, in this order",
    )
    file_id: int
    file_name: str
    source_url: str | None = Field(default=None, description="the web page the file was fetched from")
    metadata: dict[str, Any]
    kb: str | None = Field(default=None, description="the knowledge base it comes from")


class KBSearchRequest(KBChoice, SearchRequest):
    """A search of one knowledge base or several."""


class SearchResponse(BaseModel):
    results: list[SearchHit]
