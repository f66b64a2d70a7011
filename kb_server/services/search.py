"""Search a knowledge base: dense, keyword (BM25) or hybrid, with scores in 0..1.

Hybrid fuses calibrated scores, not ranks: a chunk's score is a weighted mean of its cosine
similarity (on one 0..1 scale for every bundled embedder, see vectorstore.score_scale) and its BM25
scaled by the query's best possible BM25. Both mean the same from query to query, so the fused
score can be held against one threshold (the chat's "no answer" decision), and a retriever that is
unsure (low scores everywhere) pulls less weight than one that is sure. When the question is
Chinese and the embedder cannot read Chinese (the bundled MiniLM), keyword search carries the
ranking; an embedder that reads the question's language gets `dense_weight` (0.6: for the
multilingual preset, on its rescaled cosine, the mean MRR@10 over English and Chinese headings and
paraphrases is 0.772 at 0.6, 0.777 at the best weight 0.55, 0.734 at 1.0 and 0.695 at 0.0).

An optional cross-encoder (`rerank.model`) then re-reads the first `rerank.top_n` distinct results
together with the query and re-orders them; the rest follow in fused order. `score` stays the
fused score, so the chat's threshold means the same with or without it; the cross-encoder's own
0..1 score comes as `rerank_score`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from catalog import repository
from catalog.models import Chunk, KnowledgeBase
from kb_server.errors import InvalidInput
from kb_server.runtime.container import Services
from kb_server.schemas import SearchHit
from kb_server.services.kb_embedders import kb_embedder
from kb_server.settings import SearchSettings
from vectorstore import Embedder, KBIndex
from vectorstore.errors import SegmentCorrupt
from vectorstore.keyword_blocks import BlockKeywordIndex, Query
from vectorstore.rerank import Reranker, relevance
from vectorstore.score_scale import similarity_score
from vectorstore.tokenize import TokenizerName, han_share, index_tokens

log = logging.getLogger(__name__)

ENGLISH_ONLY_PRESETS = ("minilm", "bge-small-en")


@dataclass(frozen=True)
class Weights:
    dense: float
    keyword: float


def fusion_weights(settings: SearchSettings, query: str, embedder_preset: str) -> Weights:
    if han_share(query) >= 0.3 and embedder_preset in ENGLISH_ONLY_PRESETS:
        return Weights(settings.cjk_dense_weight, 1.0 - settings.cjk_dense_weight)
    return Weights(settings.dense_weight, 1.0 - settings.dense_weight)


def keyword_terms(own: Sequence[str], carried: Sequence[str], share: float) -> Query:
    """BM25 term weights: each of the query's own tokens weighs 1, and the carried tokens it lacks
    together weigh `share` of the whole (as query expansion weighs its added terms, RM3), so the
    few words of a follow-up ("书呢？") are not outvoted by the many of the question before it."""
    extra = Counter(t for t in carried if t not in own)
    if not extra:
        return own
    weights: dict[str, float] = dict(Counter(own))
    if not weights:  # nothing of its own to search for
        return dict(extra)
    per_token = share / (1.0 - share) * sum(weights.values()) / sum(extra.values())
    weights.update({t: n * per_token for t, n in extra.items()})
    return weights


def search(
    services: Services,
    kb_name: str,
    query: str,
    top_k: int,
    score_threshold: float | None = None,
    mode: str | None = None,
    tokenizer: TokenizerName | None = None,
    rerank: bool | None = None,
    query_vectors: dict[str, np.ndarray] | None = None,
    context: str | None = None,
    _tries: int = 3,
) -> list[SearchHit]:
    """The best `top_k` chunks for `query`, best first, with scores in 0..1, each naming its KB.

    The KB is searched with the embedder it was built with. `rerank`: None reranks when a reranker
    is configured, False never does. `query_vectors` keeps the query's vector per embedder across
    calls (several KBs, one question). `context`: words carried from earlier turns of a
    conversation (kb_server.services.followup); the embedder reads them after the query, keyword
    search weighs them together as `search.context_share` of the query (the rest: its own words).
    A result whose chunk left the catalog while the search ran (a new version of its document
    committed: the old chunks go as the new ones arrive) makes it search again at the new KB
    version, so a document being replaced is never missing from the results.

    Raises:
        NotFound: no such knowledge base.
        EmbedderMismatch: no embedder of this server made the KB's vectors.
        EmbedderUnavailable: the KB's embedder cannot be loaded here.
        InvalidInput: `rerank` is True and no reranker is configured.
    """
    settings = services.settings.search
    mode = mode or settings.mode
    tokenizer = tokenizer or services.settings.ingestion.keyword_tokenizer
    reranker = _reranker(services, rerank)
    wanted = max(top_k, services.settings.rerank.top_n) if reranker else top_k
    kb = repository.get_kb(services.db, kb_name)
    preset, embedder = kb_embedder(services, kb)
    version = repository.kb_version(services.db, kb.id)
    pool = max(settings.candidates, wanted * 4)
    text = f"{query} {context}" if context else query
    terms = keyword_terms(
        index_tokens(query, tokenizer), index_tokens(context or "", tokenizer), settings.context_share
    )
    dense: dict[int, float] = {}
    keyword: dict[int, float] = {}
    query_vector = None
    keyword_index = None
    index: KBIndex | None = None
    if mode in ("dense", "hybrid"):
        index = services.indexes.get(kb.id, kb.dim, kb.segment_set)
        if index.segment_set != kb.segment_set and _tries > 1:  # re-embedded since `kb` was read
            return search(
                services,
                kb_name,
                query,
                top_k,
                score_threshold,
                mode,
                tokenizer,
                rerank,
                query_vectors,
                context,
                _tries - 1,
            )
        if index.version != version:
            index.sync(*repository.done_generations(services.db, kb.id))
        query_vector = _query_vector(services, embedder, text, query_vectors)
        dense = dict(index.search(query_vector, pool))
    if mode in ("keyword", "hybrid"):
        keyword_index = _keyword_index(services, kb, version, tokenizer)
        keyword = dict(keyword_index.search(terms, pool))

    if mode == "dense":
        scored = {cid: similarity_score(s, preset) for cid, s in dense.items()}
    elif mode == "keyword":
        scored = keyword
    else:
        assert query_vector is not None
        assert keyword_index is not None
        assert index is not None
        weights = fusion_weights(settings, text, preset)
        union = list(dense.keys() | keyword.keys())
        missing_dense = [c for c in union if c not in dense]
        if missing_dense:
            dense.update(index.scores_for(query_vector, missing_dense))
        missing_keyword = [c for c in union if c not in keyword]
        if missing_keyword:
            keyword.update(keyword_index.scores_for(terms, missing_keyword))
        scored = {
            cid: weights.dense * similarity_score(dense.get(cid, 0.0), preset) + weights.keyword * keyword.get(cid, 0.0)
            for cid in union
        }
    ranked = sorted(scored.items(), key=lambda item: -item[1])
    if score_threshold is not None:
        ranked = [(c, s) for c, s in ranked if s >= score_threshold]
    hits, missing = _hits(services, kb, ranked, wanted, settings.dedupe_similarity)
    if missing and _tries > 1 and repository.kb_version(services.db, kb.id) != version:
        return search(
            services,
            kb_name,
            query,
            top_k,
            score_threshold,
            mode,
            tokenizer,
            rerank,
            query_vectors,
            context,
            _tries - 1,
        )
    if reranker:
        hits = _rerank(services, reranker, text, hits)
    return hits[:top_k]


def _reranker(services: Services, wanted: bool | None) -> Reranker | None:
    if wanted is False:
        return None
    if wanted and services.reranker is None:
        raise InvalidInput("no reranker is configured (rerank.model)", code="rerank_not_configured")
    return services.reranker


def _rerank(services: Services, reranker: Reranker, query: str, hits: list[SearchHit]) -> list[SearchHit]:
    head, tail = hits[: services.settings.rerank.top_n], hits[services.settings.rerank.top_n :]
    if not head:
        return hits
    # The same lock as the query embedder: both are torch models on the same few cores.
    with services.embed_lock:
        logits = reranker.logits(query, [h.text for h in head])
    order = sorted(range(len(head)), key=lambda i: -logits[i])
    reranked = [head[i].model_copy(update={"rerank_score": round(relevance(logits[i]), 6)}) for i in order]
    return reranked + tail


def _query_vector(services: Services, embedder: Embedder, query: str, memo: dict[str, np.ndarray] | None) -> np.ndarray:
    if memo is not None and embedder.identity in memo:
        return memo[embedder.identity]
    with services.embed_lock:
        vector = embedder.embed_query(query)
    if memo is not None:
        memo[embedder.identity] = vector
    return vector


def _keyword_index(services: Services, kb: KnowledgeBase, version: int, tokenizer: TokenizerName) -> BlockKeywordIndex:
    # Updated file by file: a new file costs O(that file), not a rebuild of the KB's BM25 matrix.
    index = services.keyword_indexes.get((kb.id, tokenizer))
    if index is None:
        index = services.keyword_indexes.setdefault((kb.id, tokenizer), BlockKeywordIndex())
    if index.version == version:
        return index

    done_version, generations = repository.done_generations(services.db, kb.id)

    def load(file_id: int) -> tuple[list[int], list[list[str]]]:
        try:
            stored = services.keywords.read(kb.id, file_id, generations[file_id], tokenizer)
        except SegmentCorrupt as exc:
            log.error("kb %s: keyword segment of file %s rebuilt from the catalog: %s", kb.id, file_id, exc)
            stored = None
        if stored is not None:
            return stored
        # No segment made with this tokenizer (an older KB, an evaluation of another one, or unreadable).
        chunks = repository.chunk_texts(services.db, file_id)
        return [c for c, _ in chunks], [index_tokens(t, tokenizer) for _, t in chunks]

    index.sync(done_version, generations, load)
    return index


def _hits(
    services: Services, kb: KnowledgeBase, ranked: list[tuple[int, float]], top_k: int, dedupe: float
) -> tuple[list[SearchHit], bool]:
    """The hits, and whether a ranked chunk was missing from the catalog (gone since the index read)."""
    hits: list[SearchHit] = []
    missing = False
    seen: list[set[str]] = []
    chunks: dict[int, tuple[Chunk, str, str | None]] = {}
    batch = top_k * 3
    for i, (cid, score) in enumerate(ranked):
        if i % batch == 0:  # rows are read a batch at a time: most queries need only the first
            chunks = repository.chunks_by_ids(services.db, kb.id, [c for c, _ in ranked[i : i + batch]])
        found = chunks.get(cid)
        if found is None:  # deleted since the index was refreshed
            missing = True
            continue
        chunk, file_name, source_url = found
        shingles = _shingles(chunk.text)
        if dedupe < 1.0 and any(_jaccard(shingles, s) >= dedupe for s in seen):
            continue  # a near-copy of a better hit (the same page uploaded twice, boilerplate)
        seen.append(shingles)
        hits.append(
            SearchHit(
                chunk_id=cid,
                text=chunk.text,
                score=round(score, 6),
                file_id=chunk.file_id,
                file_name=file_name,
                source_url=source_url,
                metadata=chunk.meta or {},
                kb=kb.name,
            )
        )
        if len(hits) == top_k:
            break
    return hits, missing


def _shingles(text: str) -> set[str]:
    words = text.lower().split()
    return {" ".join(words[i : i + 3]) for i in range(max(len(words) - 2, 1))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
