"""Search: one knowledge base, or several at once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kb_server.api.deps import ServicesDep
from kb_server.schemas import ErrorBody, KBSearchRequest, SearchRequest, SearchResponse
from kb_server.services import multi_search
from kb_server.services import search as search_service

router = APIRouter(tags=["search"])
_errors: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody},
    404: {"model": ErrorBody},
    409: {"model": ErrorBody},
    503: {"model": ErrorBody},
}


@router.post("/api/kbs/{kb}/search", response_model=SearchResponse, responses=_errors)
def search_kb(kb: str, body: SearchRequest, services: ServicesDep) -> SearchResponse:
    """The `top_k` chunks best matching `query`, best first. `mode`: `dense` (embeddings), `keyword`
    (BM25; jieba for Chinese) or `hybrid` (default: both, fused). `score` is 0..1, higher is better;
    `score_threshold` drops results below it. With a cross-encoder configured (`rerank.model`), the
    best `rerank.top_n` results are re-ordered by it and carry its 0..1 `rerank_score`; `score`
    stays the retrieval score. `rerank: false` skips it for this request. The KB is searched with
    the embedder it was built with (409 `embedder_mismatch` when this server has none that makes
    its vectors, 503 `embedder_unavailable` when that embedder cannot be loaded here)."""
    top_k = min(body.top_k, services.settings.search.max_top_k)
    hits = search_service.search(
        services,
        kb,
        body.query,
        top_k,
        body.score_threshold,
        body.mode,
        body.tokenizer,
        body.rerank,
        context=body.context,
    )
    return SearchResponse(results=hits)


@router.post("/api/search", response_model=SearchResponse, responses=_errors)
def search_kbs(body: KBSearchRequest, services: ServicesDep) -> SearchResponse:
    """Search one knowledge base (`kb`) or several (`kbs`) with the same options as
    `/api/kbs/{kb}/search`. Each KB is searched with its own embedder; the results are fused on
    their 0..1 scores (one scale for every embedder), best first, `top_k` in all, each naming its
    `kb`. `kb` and `kbs` together are a 422."""
    top_k = min(body.top_k, services.settings.search.max_top_k)
    hits = multi_search.search_kbs(
        services,
        body.kb_names,
        body.query,
        top_k,
        body.score_threshold,
        body.mode,
        body.tokenizer,
        body.rerank,
        context=body.context,
    )
    return SearchResponse(results=hits)
