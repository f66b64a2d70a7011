"""ModelSpec: pooling, normalisation and length read as sentence-transformers reads them; stable keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vectorstore import EmbeddingSettings
from vectorstore.embedders import bundled_minilm_path
from vectorstore.model_spec import model_spec


def model_dir(tmp_path: Path, pooling: dict[str, object], normalize: bool = True) -> Path:
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (folder / "config.json").write_text(json.dumps({"max_position_embeddings": 512}))
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


@pytest.mark.unit
def test_the_bundled_minilm_pools_by_mean_normalises_and_reads_256_tokens() -> None:
    spec = model_spec(str(bundled_minilm_path()), EmbeddingSettings())

    assert (spec.local, spec.pooling, spec.normalize, spec.max_seq_length) == (True, "mean", True, 256)
    assert len(spec.fingerprint) == 64
    assert spec.key("onnx-int8") != spec.key("torch")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("config", "pooling"),
    [
        ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, "cls"),
        ({"pooling_mode_mean_tokens": True}, "mean"),
        ({"pooling_mode": "cls"}, "cls"),
        ({"pooling_mode_max_tokens": True}, None),  # not something the ONNX backend implements
        ({"pooling_mode_lasttoken": True}, None),
    ],
)
def test_pooling_comes_from_the_models_own_config(tmp_path: Path, config: dict[str, object], pooling: str) -> None:
    assert model_spec(str(model_dir(tmp_path, config)), EmbeddingSettings(preset="custom")).pooling == pooling


@pytest.mark.unit
def test_explicit_settings_win_and_change_the_key(tmp_path: Path) -> None:
    folder = str(model_dir(tmp_path, {"pooling_mode_mean_tokens": True}, normalize=False))
    plain = model_spec(folder, EmbeddingSettings(preset="custom", normalize=False))
    forced = model_spec(folder, EmbeddingSettings(preset="custom", pooling="cls", max_seq_length=128))

    assert (plain.pooling, plain.normalize, plain.max_seq_length) == ("mean", False, 512)
    assert (forced.pooling, forced.normalize, forced.max_seq_length) == ("cls", True, 128)
    assert plain.key("torch") != forced.key("torch")


@pytest.mark.unit
def test_changed_weights_change_the_fingerprint(tmp_path: Path) -> None:
    folder = model_dir(tmp_path, {"pooling_mode_mean_tokens": True})
    before = model_spec(str(folder), EmbeddingSettings(preset="custom"))
    (folder / "model.safetensors").write_bytes(b"other weights")

    assert model_spec(str(folder), EmbeddingSettings(preset="custom")).fingerprint != before.fingerprint
