"""The int8 ONNX backend: built once and cached, checked against torch, chosen by `auto` on merit.

The export is built once for this module into a temporary cache dir (~20 s on 2 cores).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingestion.chunking import chunk_elements
from ingestion.parsing import parse_document
from kb_server.services.evaluation import is_relevant, rank_metrics
from vectorstore import Embedder, EmbedderUnavailable, EmbeddingSettings, build_embedder, onnx_build
from vectorstore.embedders import resolve_model_location
from vectorstore.model_spec import model_spec
from vectorstore.onnx_build import QUALITY_FILE, Int8Build, QualityRecord, ensure_int8_model, int8_folder
from vectorstore.onnx_embedder import MODEL_FILE, OnnxEmbedder
from vectorstore.vector_cache import CachedEmbedder

SETTINGS = EmbeddingSettings(vector_cache=False)


def _no_reference() -> Any:
    raise AssertionError("the fp32 reference is only loaded when a build runs")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("int8-cache")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def int8(cache_dir: Path) -> Embedder:
    embedder = build_embedder(SETTINGS, cache_dir=cache_dir)
    assert isinstance(embedder, OnnxEmbedder), "auto should pick the int8 model for the bundled MiniLM"
    return embedder


@pytest.fixture(scope="module")
def build(int8: Embedder, cache_dir: Path) -> Int8Build:
    spec = model_spec(resolve_model_location(SETTINGS), SETTINGS)
    return ensure_int8_model(spec, cache_dir, reference=_no_reference)


@pytest.fixture(scope="module")
def faq_answers(shared_data: Path) -> list[str]:
    lines = (shared_data / "python-faq" / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["answer"][:1500] for line in lines]


@pytest.mark.integration
def test_the_export_is_built_once_into_the_cache_dir(build: Int8Build, cache_dir: Path) -> None:
    assert build.folder.parent == cache_dir / "onnx"
    assert build.usable
    model = build.folder / MODEL_FILE
    size, mtime = model.stat().st_size, model.stat().st_mtime_ns
    assert 15 << 20 < size < 30 << 20  # int8: about a quarter of the 90 MB fp32 weights
    assert not list(build.folder.glob("*.fp32.onnx"))

    # A second build is a no-op: no reference model loaded, nothing rewritten.
    again = ensure_int8_model(model_spec(resolve_model_location(SETTINGS), SETTINGS), cache_dir, _no_reference)

    assert again == build
    assert (model.stat().st_size, model.stat().st_mtime_ns) == (size, mtime)
    assert not [p for p in build.folder.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.integration
def test_the_quality_record_is_written_beside_the_model_and_read_back(build: Int8Build) -> None:
    stored = json.loads((build.folder / QUALITY_FILE).read_text(encoding="utf-8"))

    assert QualityRecord.load(build.folder) == build.quality
    assert stored["passed"] is True
    assert stored["samples"] >= 40
    assert stored["cosine_mean"] >= 0.98
    assert stored["cosine_min"] >= 0.9
    assert stored["error"] is None
    assert set(stored["versions"]) >= {"torch", "onnxruntime"}


@pytest.mark.integration
def test_int8_vectors_match_torch_on_real_faq_text(int8: Embedder, embedder: Embedder, faq_answers: list[str]) -> None:
    quantized = int8.embed_documents(faq_answers)
    reference = embedder.embed_documents(faq_answers)

    assert quantized.shape == reference.shape == (len(faq_answers), 384)
    assert quantized.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(quantized * reference, axis=1)
    assert cosines.mean() >= 0.98
    assert cosines.min() >= 0.95
    assert int8.name == embedder.name  # the same KBs stay searchable
    assert int8.dim == embedder.dim


@pytest.mark.integration
def test_a_texts_int8_vector_does_not_depend_on_its_batch(int8: Embedder, faq_answers: list[str]) -> None:
    # Dynamic quantization scales activations per run: one text per run (the default, and the
    # fastest) keeps every text's vector independent of its neighbours.
    texts = faq_answers[:24]
    together = int8.embed_documents(texts)
    one_by_one = np.vstack([int8.embed_documents([t]) for t in texts[:6]])

    np.testing.assert_allclose(together[:6], one_by_one, atol=1e-5)
    np.testing.assert_allclose(int8.embed_query(texts[3]), together[3], atol=1e-5)
    assert int8.embed_documents([]).shape == (0, 384)


@pytest.mark.integration
def test_larger_int8_batches_stay_close_to_single_runs(build: Int8Build, faq_answers: list[str]) -> None:
    texts = faq_answers[:24]
    single = OnnxEmbedder(build.folder, "single", batch_size=1, threads=1).embed_documents(texts)
    batched = OnnxEmbedder(build.folder, "batched", batch_size=8, threads=1).embed_documents(texts)

    cosines = np.sum(single * batched, axis=1)
    assert cosines.mean() >= 0.98
    assert cosines.min() >= 0.95  # padding shifts the activation scales of a whole batch


def _cache_with_record(build: Int8Build, root: Path, **changes: Any) -> Path:
    spec = model_spec(resolve_model_location(SETTINGS), SETTINGS)
    target = int8_folder(spec, root)
    shutil.copytree(build.folder, target)
    record = {**json.loads((build.folder / QUALITY_FILE).read_text(encoding="utf-8")), **changes}
    (target / QUALITY_FILE).write_text(json.dumps(record), encoding="utf-8")
    return root


@pytest.mark.integration
def test_auto_chooses_int8_only_when_the_check_passed(build: Int8Build, tmp_path: Path) -> None:
    passed = _cache_with_record(build, tmp_path / "passed")
    failed = _cache_with_record(build, tmp_path / "failed", passed=False, cosine_mean=0.95, cosine_min=0.81)
    broken = _cache_with_record(build, tmp_path / "broken", passed=False, error="RuntimeError: export failed")

    assert isinstance(build_embedder(SETTINGS, cache_dir=passed), OnnxEmbedder)
    assert getattr(build_embedder(SETTINGS, cache_dir=failed), "backend", None) == "torch"
    assert getattr(build_embedder(SETTINGS, cache_dir=broken), "backend", None) == "torch"
    # The stored cosines are held against the limits in force, not those of build time.
    strict = SETTINGS.model_copy(update={"int8_min_cosine": 0.9999})
    assert getattr(build_embedder(strict, cache_dir=passed), "backend", None) == "torch"
    # Asked for explicitly, int8 is used despite a failed check, but never a broken build.
    explicit = SETTINGS.model_copy(update={"backend": "onnx-int8"})
    assert isinstance(build_embedder(explicit, cache_dir=failed), OnnxEmbedder)
    with pytest.raises(EmbedderUnavailable, match="export failed"):
        build_embedder(explicit, cache_dir=broken)


@pytest.mark.integration
def test_without_a_cache_dir_auto_is_torch_and_onnx_int8_is_refused() -> None:
    assert getattr(build_embedder(SETTINGS), "backend", None) == "torch"
    with pytest.raises(EmbedderUnavailable, match="needs a cache dir"):
        build_embedder(SETTINGS.model_copy(update={"backend": "onnx-int8"}))


@pytest.mark.integration
def test_the_default_wraps_int8_in_the_vector_cache(build: Int8Build, tmp_path: Path) -> None:
    root = _cache_with_record(build, tmp_path / "cache")

    embedder = build_embedder(EmbeddingSettings(), cache_dir=root)

    assert isinstance(embedder, CachedEmbedder)
    assert isinstance(embedder.inner, OnnxEmbedder)
    assert list((root / "vectors").glob("*.sqlite3"))


@pytest.mark.unit
def test_concurrent_builds_of_one_model_run_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    gate = threading.Event()

    def fake_build(spec: Any, work: Path, *_: Any) -> QualityRecord:
        calls.append(1)
        gate.wait(5)
        (work / MODEL_FILE).write_bytes(b"model")
        return QualityRecord(True, 0.99, 0.985, 3, 0.98, 0.9, "test", "now", {})

    monkeypatch.setattr(onnx_build, "_build", fake_build)
    spec = model_spec(resolve_model_location(SETTINGS), SETTINGS)
    results: list[Int8Build] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_int8_model(spec, tmp_path, _no_reference)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(30)

    assert len(calls) == 1
    assert len(results) == 3
    assert len({r.folder for r in results}) == 1
    assert (results[0].folder / MODEL_FILE).read_bytes() == b"model"


@pytest.mark.integration
@pytest.mark.slow
def test_int8_retrieval_on_the_python_faq_is_within_001_mrr_of_fp32(
    int8: Embedder, embedder: Embedder, shared_data: Path
) -> None:
    chunks: list[str] = []
    for page in sorted((shared_data / "python-faq" / "html").glob("*.html")):
        chunks += [d.text for d in chunk_elements(parse_document(page, ".html"), 750, 150)]
    qa = [json.loads(line) for line in (shared_data / "python-faq" / "qa.jsonl").read_text().splitlines()]
    questions = [q["question"] for q in qa]

    def mrr(model: Embedder) -> float:
        ranked = np.argsort(-(np.vstack([model.embed_query(q) for q in questions]) @ model.embed_documents(chunks).T))
        relevance = [[is_relevant(chunks[j], q["answer"]) for j in row[:10]] for row, q in zip(ranked, qa, strict=True)]
        return rank_metrics(relevance).mrr_at_10

    fp32, quantized = mrr(embedder), mrr(int8)

    assert fp32 > 0.6  # a sanity check of the measurement itself
    assert quantized >= fp32 - 0.01, f"MRR@10 int8 {quantized:.4f} vs fp32 {fp32:.4f}"
