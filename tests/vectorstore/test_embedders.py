"""Embedders: settings resolution without a model, and the real bundled all-MiniLM-L6-v2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vectorstore import Embedder, EmbedderUnavailable, EmbeddingSettings, build_embedder
from vectorstore.embedders import bundled_minilm_path, resolve_model_location
from vectorstore.settings import BGE_EN_QUERY_INSTRUCTION, BGE_ZH_QUERY_INSTRUCTION


@pytest.mark.unit
@pytest.mark.parametrize(
    ("preset", "pooling"),
    [("minilm", "mean"), ("custom", "mean"), ("bge-small-en", "cls"), ("bge-small-zh", "cls"), ("bge-m3", "cls")],
)
def test_preset_resolves_pooling(preset: str, pooling: str) -> None:
    assert EmbeddingSettings(preset=preset).resolved_pooling() == pooling  # type: ignore[arg-type]


@pytest.mark.unit
def test_explicit_pooling_overrides_the_preset() -> None:
    assert EmbeddingSettings(preset="bge-small-en", pooling="mean").resolved_pooling() == "mean"
    assert EmbeddingSettings(preset="minilm", pooling="cls").resolved_pooling() == "cls"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("preset", "instruction"),
    [
        ("minilm", ""),
        ("bge-small-en", BGE_EN_QUERY_INSTRUCTION),
        ("bge-small-zh", BGE_ZH_QUERY_INSTRUCTION),
        ("bge-m3", ""),  # bge-m3 needs no instruction
    ],
)
def test_preset_resolves_query_instruction(preset: str, instruction: str) -> None:
    assert EmbeddingSettings(preset=preset).resolved_query_instruction() == instruction  # type: ignore[arg-type]


@pytest.mark.unit
def test_explicit_query_instruction_overrides_the_preset_even_when_empty() -> None:
    assert EmbeddingSettings(preset="bge-small-zh", query_instruction="").resolved_query_instruction() == ""
    assert EmbeddingSettings(query_instruction="query: ").resolved_query_instruction() == "query: "


@pytest.mark.unit
@pytest.mark.parametrize("preset", ["bge-small-en", "bge-small-zh", "bge-m3", "custom"])
def test_preset_without_model_dir_is_unavailable_with_a_hint(preset: str) -> None:
    with pytest.raises(EmbedderUnavailable, match=r"no bundled weights: set embedding\.model to a local directory"):
        build_embedder(EmbeddingSettings(preset=preset))  # type: ignore[arg-type]


@pytest.mark.unit
def test_hub_name_is_refused_while_downloads_are_off(tmp_path: Path) -> None:
    settings = EmbeddingSettings(preset="bge-small-zh", model="BAAI/bge-small-zh-v1.5")
    with pytest.raises(EmbedderUnavailable, match="allow_download"):
        build_embedder(settings)
    assert resolve_model_location(settings.model_copy(update={"allow_download": True})) == "BAAI/bge-small-zh-v1.5"
    assert resolve_model_location(EmbeddingSettings(model=str(tmp_path))) == str(tmp_path)


@pytest.mark.integration  # imports torch and transformers
def test_a_local_dir_without_weights_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(EmbedderUnavailable, match="cannot load embedding model"):
        build_embedder(EmbeddingSettings(preset="bge-small-en", model=str(tmp_path)))


@pytest.mark.unit
def test_bundled_weights_are_installed() -> None:
    path = bundled_minilm_path()
    assert (path / "modules.json").is_file()
    assert resolve_model_location(EmbeddingSettings()) == str(path)


@pytest.mark.integration
def test_bundled_model_gives_384_dim_unit_vectors(embedder: Embedder) -> None:
    vectors = embedder.embed_documents(["first sentence", "a second, longer sentence about vectors", "三"])

    assert embedder.dim == 384
    assert embedder.name == "bundled:minilm"
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_documents([]).shape == (0, 384)


@pytest.mark.integration
def test_paraphrase_scores_higher_than_an_unrelated_sentence(embedder: Embedder) -> None:
    query = embedder.embed_query("How do I return an item I bought?")
    paraphrase, unrelated = embedder.embed_documents(
        ["What is the procedure for sending back a purchase?", "The giraffe is the tallest land animal."]
    )

    assert float(query @ paraphrase) > 0.5
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.3


@pytest.mark.integration
def test_minilm_queries_are_embedded_without_an_instruction(embedder: Embedder) -> None:
    text = "where is the configuration file?"
    np.testing.assert_allclose(embedder.embed_query(text), embedder.embed_documents([text])[0], atol=1e-6)


@pytest.mark.integration
def test_bge_settings_apply_cls_pooling_and_the_query_instruction(embedder: Embedder) -> None:
    # No BGE weights ship in a package: the bundled MiniLM directory stands in for one, built
    # through the same Transformer + CLS pooling + Normalize path a BGE model takes.
    bge = build_embedder(
        EmbeddingSettings(preset="bge-small-en", model=str(bundled_minilm_path()), pooling="cls", batch_size=2)
    )
    texts = ["the cat sat on the mat", "stock markets fell sharply today", "rain is expected tomorrow"]

    cls_vectors = bge.embed_documents(texts)
    mean_vectors = embedder.embed_documents(texts)

    assert bge.dim == 384
    np.testing.assert_allclose(np.linalg.norm(cls_vectors, axis=1), 1.0, atol=1e-5)
    assert np.all(np.sum(cls_vectors * mean_vectors, axis=1) < 0.99)  # a different pooling
    query = "is it going to rain?"
    np.testing.assert_allclose(
        bge.embed_query(query), bge.embed_documents([BGE_EN_QUERY_INSTRUCTION + query])[0], atol=1e-6
    )
    assert not np.allclose(bge.embed_query(query), bge.embed_documents([query])[0], atol=1e-3)
