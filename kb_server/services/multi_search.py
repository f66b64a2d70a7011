"""Search several knowledge bases at once: each with its own embedder, the hits fused into one list.

Scores are comparable across KBs because every one is on the same calibrated 0..1 scale, whatever
the KB's embedder (vectorstore.score_scale) and retriever mix (search's fusion), so fusing is a
merge on score. Reranked hits (one cross-encoder read them all) merge on its score instead. The same
passage in two KBs (the same file uploaded to both) is kept once, where it scored best.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kb_server.runtime.container import Services
from kb_server.schemas import SearchHit
from kb_server.services import search as search_service
from vectorstore.tokenize import TokenizerName


def fuse_hits(per_kb: Sequence[Sequence[SearchHit]], top_k: int) -> list[SearchHit]:
    """The best `top_k` of several KBs' hits (each list best first), best first.

    Ties keep the order of the KBs, then each KB's own order.
    """
    merged = [(hit, kb_rank, rank) for kb_rank, hits in enumerate(per_kb) for rank, hit in enumerate(hits)]
    by_rerank = bool(merged) and all(hit.rerank_score is not None for hit, _, _ in merged)

    def key(entry: tuple[SearchHit, int, int]) -> tuple[float, int, int]:
        hit, kb_rank, rank = entry
        score = hit.rerank_score if by_rerank and hit.rerank_score is not None else hit.score
        return -score, kb_rank, rank

    fused: list[SearchHit] = []
    seen: set[str] = set()
    for hit, _, _ in sorted(merged, key=key):
        text = " ".join(hit.text.split())
        if text in seen:
            continue
        seen.add(text)
        fused.append(hit)
        if len(fused) == top_k:
            break
    return fused


def search_kbs(
    services: Services,
    kb_names: Sequence[str],
    query: str,
    top_k: int,
    score_threshold: float | None = None,
    mode: str | None = None,
    tokenizer: TokenizerName | None = None,
    rerank: bool | None = None,
    context: str | None = None,
) -> list[SearchHit]:
    """The best `top_k` chunks of all the KBs named, best first; one KB is a plain search.
    `context`: words carried from earlier turns (as `search.search`).

    Raises:
        NotFound, EmbedderMismatch, EmbedderUnavailable, InvalidInput: as `search.search`, for any of the KBs.
    """
    names = list(dict.fromkeys(kb_names))
    if len(names) == 1:
        return search_service.search(
            services, names[0], query, top_k, score_threshold, mode, tokenizer, rerank, context=context
        )
    # KBs built with one embedder share the query's vector.
    vectors: dict[str, np.ndarray] = {}
    per_kb = [
        search_service.search(
            services,
            name,
            query,
            top_k,
            score_threshold,
            mode,
            tokenizer,
            rerank,
            query_vectors=vectors,
            context=context,
        )
        for name in names
    ]
    return fuse_hits(per_kb, top_k)
