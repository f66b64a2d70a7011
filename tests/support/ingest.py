"""An in-process ingestion context over a test's services (the worker's, without a worker)."""

from __future__ import annotations

from ingestion.context import IngestionContext
from kb_server.runtime.container import Services


def ingestion_context(services: Services) -> IngestionContext:
    return IngestionContext(
        db=services.db,
        uploads=services.uploads,
        segments=services.segments,
        settings=services.settings.ingestion,
        embedder_factory=lambda: services.embedder,
        keywords=services.keywords,
        embedders=services.embedders,
    )
