"""The cross-encoder reranker with a real CrossEncoder model directory.

No package ships cross-encoder weights, so the fixture makes one from the bundled MiniLM: its BERT
encoder with a fresh one-label classification head, seeded, saved like any CrossEncoder. It ranks
arbitrarily, which is enough to check that kb-server applies the model's own scores faithfully.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from vectorstore import RerankerUnavailable, RerankSettings, build_reranker
from vectorstore.embedders import bundled_minilm_path
from vectorstore.rerank import CrossEncoderReranker, relevance

pytestmark = pytest.mark.integration

QUERY = "Which GUI toolkits can I use with Python?"
TEXTS = [
    "Tkinter is the standard GUI toolkit shipped with Python.",
    "Python can be embedded in a C program.",
    "wxWidgets and Qt have Python bindings for building desktop interfaces.",
    "Use the dis module to disassemble bytecode.",
    "Lists are mutable; tuples are not.",
]


def save_cross_encoder(folder: Path, seed: int = 0) -> Path:
    """A CrossEncoder directory: the bundled MiniLM encoder under a seeded, untrained one-label head."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(seed)
    model = CrossEncoder(str(bundled_minilm_path()), num_labels=1, device="cpu")
    model.save(str(folder))
    return folder


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_cross_encoder(tmp_path_factory.mktemp("cross-encoder"))


def test_no_model_means_no_reranker() -> None:
    assert build_reranker(RerankSettings()) is None


def test_logits_are_the_cross_encoders_own_scores(cross_encoder_dir: Path) -> None:
    from sentence_transformers import CrossEncoder

    reranker = build_reranker(RerankSettings(model=str(cross_encoder_dir), batch_size=2))
    assert isinstance(reranker, CrossEncoderReranker)
    logits = reranker.logits(QUERY, TEXTS)

    independent = CrossEncoder(str(cross_encoder_dir), device="cpu").predict([(QUERY, t) for t in TEXTS])
    assert len(set(independent.tolist())) == len(TEXTS)  # no ties: the order below is meaningful
    assert sorted(range(len(TEXTS)), key=lambda i: -logits[i]) == sorted(
        range(len(TEXTS)), key=lambda i: -independent[i]
    )
    # The saved model applies a sigmoid; kb-server's 0..1 relevance is the same number.
    assert [relevance(x) for x in logits] == pytest.approx(independent.tolist(), abs=1e-5)
    assert reranker.logits(QUERY, []) == []


def test_relevance_is_a_sigmoid_in_0_1_without_overflow() -> None:
    assert relevance(0.0) == 0.5
    assert relevance(2.0) == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert relevance(-2.0) == pytest.approx(1 - relevance(2.0))
    assert 0.0 <= relevance(-1000.0) < relevance(1000.0) <= 1.0


def test_a_missing_directory_is_refused_at_load_with_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "bge-reranker-base"
    with pytest.raises(RerankerUnavailable, match=r"not a local directory and downloads are off.*rerank\.model"):
        build_reranker(RerankSettings(model=str(missing)))


def test_a_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not a model\n")
    with pytest.raises(RerankerUnavailable, match=f"cannot load the reranker from {tmp_path}"):
        build_reranker(RerankSettings(model=str(tmp_path)))


def test_an_encoder_without_a_relevance_head_is_refused() -> None:
    # The bundled embedder is a plain BERT encoder: loaded as a cross-encoder it would get a random head.
    with pytest.raises(RerankerUnavailable, match="not a cross-encoder with one relevance output"):
        build_reranker(RerankSettings(model=str(bundled_minilm_path())))
