"""Optional cross-encoder reranking of search results.

The embedder compares two vectors made apart; a cross-encoder reads the query and a passage in
one forward pass, which usually ranks better and costs one forward pass per candidate per query.
So only the best few fused results are reranked. No reranker weights ship with kb-server (no
package registry carries them): `rerank.model` names a local directory holding a
sentence-transformers CrossEncoder with a one-label classification head (BAAI/bge-reranker-*,
cross-encoder/ms-marco-*).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from vectorstore.errors import RerankerUnavailable
from vectorstore.model_source import keep_hub_offline, local_or_allowed
from vectorstore.settings import RerankSettings

__all__ = ["CrossEncoderReranker", "Reranker", "RerankerUnavailable", "build_reranker", "relevance"]


class Reranker(Protocol):
    name: str

    def logits(self, query: str, texts: Sequence[str]) -> list[float]:
        """The model's relevance logit for each text (higher is more relevant), in the order given."""
        ...


def relevance(logit: float) -> float:
    """A logit as 0..1 (its sigmoid), computed without overflow."""
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    odds = math.exp(logit)
    return odds / (1.0 + odds)


def resolve_reranker_location(settings: RerankSettings) -> str:
    """The reranker's local directory, or its hub name when downloads are allowed.

    Raises:
        RerankerUnavailable: no model is configured, or it is not a directory and downloads are off.
    """
    if settings.model is None:
        raise RerankerUnavailable("no reranker is configured (rerank.model is null)")
    location = local_or_allowed(settings.model, settings.allow_download)
    if location is not None:
        return location
    raise RerankerUnavailable(
        f"reranker {settings.model!r} is not a local directory and downloads are off "
        "(rerank.allow_download: false): copy a cross-encoder such as BAAI/bge-reranker-base into a "
        "directory and set rerank.model to it, or set rerank.model: null to search without reranking"
    )


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder on the CPU, scoring (query, passage) pairs."""

    def __init__(self, settings: RerankSettings) -> None:
        """Load the model.

        Raises:
            RerankerUnavailable: the model cannot be found or loaded, or it is not a one-label
                sequence classifier (a plain encoder would get a random head and rank at random).
        """
        location = resolve_reranker_location(settings)
        keep_hub_offline(settings.allow_download)
        import torch
        from sentence_transformers import CrossEncoder

        if settings.threads:
            torch.set_num_threads(settings.threads)
        hint = "set rerank.model to a cross-encoder directory (e.g. a copy of BAAI/bge-reranker-base) or null"
        try:
            model = CrossEncoder(location, device="cpu", local_files_only=not settings.allow_download)
        except (OSError, ValueError) as exc:  # ValueError: a directory that holds no usable model
            raise RerankerUnavailable(f"cannot load the reranker from {location}: {exc}; {hint}") from exc
        architectures = getattr(getattr(model.model, "config", None), "architectures", None) or []
        if not any(a.endswith("ForSequenceClassification") for a in architectures) or model.num_labels != 1:
            raise RerankerUnavailable(
                f"the model in {location} is not a cross-encoder with one relevance output "
                f"(architectures {architectures}, {model.num_labels} labels); {hint}"
            )
        self._model = model
        self._identity = torch.nn.Identity()
        self._batch_size = settings.batch_size
        self.name = settings.model or location

    def logits(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        scores = self._model.predict(
            [(query, text) for text in texts],
            batch_size=self._batch_size,
            activation_fn=self._identity,  # raw logits: the model's own activation may saturate and tie
            show_progress_bar=False,
        )
        return [float(s) for s in scores]


def build_reranker(settings: RerankSettings) -> Reranker | None:
    """The configured reranker (loads the model: call once per process), or None when `model` is null.

    Raises:
        RerankerUnavailable: a model is configured but cannot be loaded.
    """
    if settings.model is None:
        return None
    return CrossEncoderReranker(settings)
