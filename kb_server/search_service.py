"""Dense search over a knowledge base, reusing the in-memory index and refreshing it on change."""

from __future__ import annotations

from ingestion.catalog import repository
from ingestion.errors import Conflict
from kb_server.container import Services
from kb_server.schemas import SearchHit


def search(
    services: Services, kb_name: str, query: str, top_k: int, score_threshold: float | None = None
) -> list[SearchHit]:
    """The best `top_k` chunks for `query`, best first, with scores in 0..1.

    Raises:
        NotFound: no such knowledge base.
        Conflict: the KB was built with another embedding model than the one loaded.
    """
    kb = repository.get_kb(services.db, kb_name)
    if kb.dim != services.embedder.dim:
        raise Conflict(
            f"knowledge base {kb_name!r} was built with {kb.embedder} ({kb.dim}-d vectors); the "
            f"server runs {services.embedder.name} ({services.embedder.dim}-d): re-ingest or switch back",
            code="embedder_mismatch",
        )
    index = services.indexes.get(kb.id)
    if index.version != repository.kb_version(services.db, kb.id):
        version, generations = repository.done_generations(services.db, kb.id)
        index.sync(version, generations)
    with services.embed_lock:
        vector = services.embedder.embed_query(query)
    hits = index.search(vector, top_k)
    chunks = repository.chunks_by_ids(services.db, kb.id, [cid for cid, _ in hits])
    results = []
    for cid, raw in hits:
        found = chunks.get(cid)
        if found is None:  # deleted since the index was refreshed
            continue
        chunk, file_name = found
        score = round(min(max(raw, 0.0), 1.0), 6)
        if score_threshold is not None and score < score_threshold:
            continue
        results.append(
            SearchHit(
                chunk_id=cid,
                text=chunk.text,
                score=score,
                file_id=chunk.file_id,
                file_name=file_name,
                metadata=chunk.meta or {},
            )
        )
    return results
