"""Search and chat passages over a real KB (two FAQ pages ingested in-process), with and without a reranker.

The cross-encoder is a real CrossEncoder directory with an untrained head (see
`tests/vectorstore/test_rerank.py`): it ranks arbitrarily, so these tests check that its scores
are applied as they are, not that reranking helps.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog import repository
from catalog.owners import new_owner
from ingestion.pipeline import ingest
from kb_server.errors import InvalidInput
from kb_server.runtime.container import Services, build_services
from kb_server.services import chat as chat_service
from kb_server.services import search as search_service
from kb_server.settings import Settings
from tests.support.ingest import ingestion_context
from tests.vectorstore.bundled import bundled_embedder
from tests.vectorstore.test_rerank import save_cross_encoder

pytestmark = pytest.mark.integration

KB = "faq"
QUESTION = "Which GUI toolkits can I use with Python?"
TOP_N = 5


def _services(data_dir: Path, **settings: object) -> Services:
    # The broker is never contacted: nothing here queues a task.
    return build_services(
        Settings(data_dir=data_dir, redis_url="redis://127.0.0.1:9/0", **settings),  # type: ignore[arg-type]
        embedder=bundled_embedder(),
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A data dir holding the KB `faq`: gui.html and installed.html, ingested."""
    root = tmp_path_factory.mktemp("search-rerank")
    services = _services(root)
    try:
        kb = repository.create_kb(services.db, KB, "", services.embedder.name, services.embedder.dim)
        ctx = ingestion_context(services)
        for page in ("gui.html", "installed.html"):
            staged = ctx.uploads.stage(io.BytesIO((shared_data / "python-faq" / "html" / page).read_bytes()))
            ctx.uploads.commit(staged)
            file = repository.register_file(services.db, kb.id, staged.sha256, page, staged.size, "", uuid.uuid4().hex)
            assert ingest(ctx, file.file.id, new_owner()).status == "done"
    finally:
        services.close()
    return root


@pytest.fixture(scope="module")
def plain(data_dir: Path) -> Iterator[Services]:
    services = _services(data_dir)
    yield services
    services.close()


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_cross_encoder(tmp_path_factory.mktemp("cross-encoder"))


@pytest.fixture(scope="module")
def reranking(data_dir: Path, cross_encoder_dir: Path) -> Iterator[Services]:
    services = _services(data_dir, rerank={"model": str(cross_encoder_dir), "top_n": TOP_N})
    yield services
    services.close()


def test_without_a_reranker_nothing_is_reranked(plain: Services) -> None:
    assert plain.reranker is None
    hits = search_service.search(plain, KB, QUESTION, 10)
    assert len(hits) == 10
    assert all(h.rerank_score is None for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    with pytest.raises(InvalidInput, match=r"no reranker is configured"):
        search_service.search(plain, KB, QUESTION, 10, rerank=True)


def test_the_top_n_are_reordered_by_the_cross_encoder_and_the_rest_keep_their_place(
    plain: Services, reranking: Services, cross_encoder_dir: Path
) -> None:
    from sentence_transformers import CrossEncoder

    fused = search_service.search(plain, KB, QUESTION, 10)
    reranked = search_service.search(reranking, KB, QUESTION, 10)

    head = fused[:TOP_N]
    predicted = CrossEncoder(str(cross_encoder_dir), device="cpu").predict([(QUESTION, h.text) for h in head])
    expected = [head[i].chunk_id for i in sorted(range(TOP_N), key=lambda i: -predicted[i])]
    assert expected != [h.chunk_id for h in head]  # the model disagrees with fusion: the test means something
    assert [h.chunk_id for h in reranked[:TOP_N]] == expected
    assert [h.rerank_score for h in reranked[:TOP_N]] == pytest.approx(
        sorted(predicted.tolist(), reverse=True), abs=1e-5
    )
    assert all(0.0 <= h.rerank_score <= 1.0 for h in reranked[:TOP_N] if h.rerank_score is not None)

    assert [h.model_dump() for h in reranked[TOP_N:]] == [h.model_dump() for h in fused[TOP_N:]]
    scores = {h.chunk_id: h.score for h in fused}
    assert all(h.score == scores[h.chunk_id] for h in reranked)  # `score` stays the fused score

    # Fewer results than top_n: still the best of the reranked top_n.
    best3 = search_service.search(reranking, KB, QUESTION, 3)
    assert [h.chunk_id for h in best3] == expected[:3]
    # Switched off per request: exactly the fused results.
    assert search_service.search(reranking, KB, QUESTION, 10, rerank=False) == fused


def test_the_threshold_applies_to_the_fused_score_before_reranking(plain: Services, reranking: Services) -> None:
    fused = search_service.search(plain, KB, QUESTION, 10)
    threshold = fused[2].score
    kept = search_service.search(reranking, KB, QUESTION, 10, score_threshold=threshold)
    assert {h.chunk_id for h in kept} == {h.chunk_id for h in fused if h.score >= threshold}


def test_merged_passages_cover_every_hit_once_with_consecutive_chunks(plain: Services) -> None:
    assert plain.settings.chat.merge_neighbours  # the default
    prepared = chat_service.prepare(plain, KB, QUESTION, None, 10, 0.0)
    hits = search_service.search(plain, KB, QUESTION, 10, 0.0)
    citations = prepared.citations
    assert sorted(i for c in citations for i in c.chunk_ids) == sorted(h.chunk_id for h in hits)
    assert any(len(c.chunk_ids) > 1 for c in citations)  # gui.html's sections answer this together
    for c in citations:
        assert c.chunk_ids == list(range(c.chunk_ids[0], c.chunk_ids[0] + len(c.chunk_ids)))
        assert c.chunk_id in c.chunk_ids
    assert [c.n for c in citations] == list(range(1, len(citations) + 1))
    assert len(prepared.messages) >= 2
    plain.settings.chat.merge_neighbours = False
    try:
        unmerged = chat_service.prepare(plain, KB, QUESTION, None, 10, 0.0)
    finally:
        plain.settings.chat.merge_neighbours = True
    assert [c.chunk_ids for c in unmerged.citations] == [[h.chunk_id] for h in hits]
