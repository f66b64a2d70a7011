"""Search."""

from __future__ import annotations

from fastapi import APIRouter

from kb_server.api.deps import ServicesDep
from kb_server.schemas import ErrorBody, SearchRequest, SearchResponse
from kb_server.services import search as search_service

router = APIRouter(prefix="/api/kbs/{kb}", tags=["search"])


@router.post("/search", response_model=SearchResponse, responses={400: {"model": ErrorBody}, 404: {"model": ErrorBody}})
def search_kb(kb: str, body: SearchRequest, services: ServicesDep) -> SearchResponse:
    """The `top_k` chunks best matching `query`, best first. `mode`: `dense` (embeddings), `keyword`
    (BM25; jieba for Chinese) or `hybrid` (default: both, fused). `score` is 0..1, higher is better;
    `score_threshold` drops results below it. With a cross-encoder configured (`rerank.model`), the
    best `rerank.top_n` results are re-ordered by it and carry its 0..1 `rerank_score`; `score`
    stays the retrieval score. `rerank: false` skips it for this request."""
    top_k = min(body.top_k, services.settings.search.max_top_k)
    hits = search_service.search(
        services, kb, body.query, top_k, body.score_threshold, body.mode, body.tokenizer, body.rerank
    )
    return SearchResponse(results=hits)
