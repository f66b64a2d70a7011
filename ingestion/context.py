"""What an ingestion (or re-embed) run works with: the catalog, the stores and the embedders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from catalog.database import Database
from ingestion.errors import DocumentError
from ingestion.settings import IngestionSettings
from ingestion.uploads import UploadStore
from vectorstore import Embedder, SegmentStore
from vectorstore.embedder_registry import EmbedderRegistry
from vectorstore.errors import EmbedderUnavailable
from vectorstore.keyword_index import KeywordSegmentStore
from vectorstore.model_spec import same_vector_space


@dataclass
class IngestionContext:
    db: Database
    uploads: UploadStore
    segments: SegmentStore
    settings: IngestionSettings
    embedder_factory: Callable[[], Embedder]  # the configured preset's
    keywords: KeywordSegmentStore
    embedders: EmbedderRegistry | None = None  # the other presets', for KBs built with them; None: only the default

    @cached_property
    def embedder(self) -> Embedder:
        return self.embedder_factory()

    def embedder_for(self, recorded: str, dim: int) -> Embedder:
        """The embedder that makes the vectors of a KB recorded as (`recorded`, `dim`); the default
        one when no other does (the caller then refuses the mismatch).

        Raises:
            DocumentError: the KB's embedder is known but cannot be loaded in this worker.
        """
        default = self.embedder
        if self.embedders is None or same_vector_space(recorded, default.identity, dim, default.dim):
            return default
        try:
            return self.embedders.for_kb(recorded, dim) or default
        except EmbedderUnavailable as exc:
            raise DocumentError(
                f"this worker cannot load the knowledge base's embedder: {exc}", code="embedder_unavailable"
            ) from exc
