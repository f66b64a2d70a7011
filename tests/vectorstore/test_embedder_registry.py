"""The embedder registry: one embedder per preset, loaded on first use, once; a KB finds its preset again."""

from __future__ import annotations

import threading
import time

import pytest

from tests.vectorstore.bundled import bundled_embedder
from vectorstore import Embedder, EmbedderUnavailable, EmbeddingSettings
from vectorstore.embedder_registry import EmbedderRegistry, identity_preset

E5 = "bundled:multilingual|0123456789abcdef|mean|384|transformer"
MINILM = "bundled:minilm|0123456789abcdef|mean|384|transformer"


@pytest.mark.unit
def test_a_recorded_identity_names_its_preset() -> None:
    configured = EmbeddingSettings(preset="minilm")
    assert identity_preset(E5, configured) == "multilingual"
    assert identity_preset(MINILM, configured) == "minilm"
    assert identity_preset("bundled:minilm", configured) == "minilm"  # a KB from before identities
    assert identity_preset("BAAI/bge-small-zh|0123|cls|512|transformer", configured) is None
    with_model = EmbeddingSettings(preset="bge-small-zh", model="/models/bge-small-zh")
    assert identity_preset("/models/bge-small-zh|0123|cls|512|transformer", with_model) == "bge-small-zh"
    # A model directory configured under a bundled preset's name is not the bundled model.
    assert identity_preset(MINILM, EmbeddingSettings(preset="minilm", model="/models/mine")) is None
    assert identity_preset(E5, EmbeddingSettings(preset="minilm", model="/models/mine")) == "multilingual"


@pytest.mark.unit
def test_another_preset_runs_its_bundled_model_with_the_configured_runtime() -> None:
    configured = EmbeddingSettings(preset="minilm", threads=1, int8_batch_size=4, query_instruction="q: ")
    registry = EmbedderRegistry(configured, lambda s: bundled_embedder())

    other = registry.settings_for("multilingual")

    assert (other.preset, other.model, other.threads, other.int8_batch_size) == ("multilingual", None, 1, 4)
    assert (other.resolved_query_instruction(), other.resolved_document_prefix()) == ("query: ", "passage: ")
    assert registry.settings_for("minilm") is configured
    assert registry.presets() == ("minilm", "multilingual")
    with pytest.raises(EmbedderUnavailable, match="no bundled weights"):
        registry.settings_for("bge-small-zh")


@pytest.mark.integration
def test_each_preset_is_loaded_once_on_first_use_whatever_the_threads() -> None:
    loads: list[str] = []

    def load(settings: EmbeddingSettings) -> Embedder:
        loads.append(settings.preset)
        time.sleep(0.2)  # the threads below all arrive while it loads
        return bundled_embedder()

    registry = EmbedderRegistry(EmbeddingSettings(preset="minilm"), load)
    assert registry.loaded() == {}
    got: list[Embedder] = []
    threads = [threading.Thread(target=lambda: got.append(registry.get("multilingual"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert loads == ["multilingual"]
    assert len(got) == 4
    assert all(e is got[0] for e in got)
    assert list(registry.loaded()) == ["multilingual"]


@pytest.mark.integration
def test_a_kb_gets_its_presets_embedder_only_when_the_weights_match() -> None:
    minilm = bundled_embedder()
    registry = EmbedderRegistry(EmbeddingSettings(preset="minilm"), lambda s: minilm)

    assert registry.for_kb(minilm.identity, minilm.dim) is minilm
    assert registry.for_kb(MINILM, 384) is None  # same name, other weights
    assert registry.for_kb("BAAI/bge-small-zh|0123|cls|512|transformer", 512) is None
