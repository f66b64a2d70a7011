"""A real stack started with `KB_RERANK__MODEL`: search over HTTP comes back reranked; a bad model stops start-up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import Proc, free_port
from tests.support.stack import Stack
from tests.vectorstore.test_rerank import save_cross_encoder

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUESTION = "Which GUI toolkits can I use with Python?"


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_cross_encoder(tmp_path_factory.mktemp("cross-encoder"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, cross_encoder_dir: Path, shared_data: Path) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("rerank-stack"), KB_RERANK__MODEL=str(cross_encoder_dir))
    try:
        running.start()
        running.client.create_kb("faq")
        running.client.upload_paths("faq", [shared_data / "python-faq" / "html" / "gui.html"])
        assert [f["status"] for f in running.client.wait_settled("faq", expected=1)] == ["done"]
        yield running
    finally:
        running.stop()


def test_search_results_come_in_the_cross_encoders_order(stack: Stack, cross_encoder_dir: Path) -> None:
    from sentence_transformers import CrossEncoder

    # The page has fewer chunks than rerank.top_n (20): every one of them is reranked.
    reranked = stack.client.search("faq", QUESTION, top_k=20)
    fused = stack.client.search("faq", QUESTION, top_k=20, rerank=False)

    assert len(fused) > 3
    assert all(h["rerank_score"] is None for h in fused)
    predicted = CrossEncoder(str(cross_encoder_dir), device="cpu").predict([(QUESTION, h["text"]) for h in fused])
    by_model = [fused[i]["chunk_id"] for i in sorted(range(len(fused)), key=lambda i: -predicted[i])]
    assert by_model != [h["chunk_id"] for h in fused]  # the model disagrees with fusion: the test means something
    assert [h["chunk_id"] for h in reranked] == by_model
    assert [h["rerank_score"] for h in reranked] == pytest.approx(sorted(predicted.tolist(), reverse=True), abs=1e-5)


def test_a_reranker_that_cannot_load_stops_the_api_at_start_up(stack: Stack, tmp_path: Path) -> None:
    missing = tmp_path / "bge-reranker-base"
    env = {**stack.env(), "KB_RERANK__MODEL": str(missing), "KB_PORT": str(free_port())}
    api = Proc(["api"], env, tmp_path / "api.log").start()
    try:
        assert api.process is not None
        assert api.process.wait(timeout=120) != 0
    finally:
        api.stop()
    assert f"RerankerUnavailable: reranker '{missing}' is not a local directory" in api.tail()
