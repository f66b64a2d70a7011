"""The stores of uploaded bytes, vector segments and keyword blocks, on the configured backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingestion.settings import StorageSettings
from ingestion.uploads import UploadStore
from vectorstore import SegmentStore
from vectorstore.byte_store import ByteStore, LocalByteStore
from vectorstore.keyword_index import KeywordSegmentStore


@dataclass(frozen=True)
class StoragePaths:
    """The data dir's folders: the local backend's store; `tmp` (staging, parser copies) on both."""

    uploads: Path
    kbs: Path
    tmp: Path


@dataclass(frozen=True)
class Stores:
    uploads: UploadStore
    segments: SegmentStore
    keywords: KeywordSegmentStore


def build_stores(settings: StorageSettings, database_url: str, paths: StoragePaths) -> Stores:
    """The three stores over one byte store per bucket: the data dir's folders, or the catalog."""
    uploads: ByteStore
    kbs: ByteStore
    match settings.backend:
        case "local":
            uploads, kbs = LocalByteStore(paths.uploads), LocalByteStore(paths.kbs)
        case "database":
            from catalog.stored_bytes import DatabaseByteStore

            uploads = DatabaseByteStore(database_url, "uploads", paths.tmp, settings.chunk_bytes)
            kbs = DatabaseByteStore(database_url, "kbs", paths.tmp, settings.chunk_bytes)
    # Segments and keyword blocks share one byte store: a KB's folder holds both (`delete_kb`).
    return Stores(UploadStore(uploads, paths.tmp), SegmentStore(kbs), KeywordSegmentStore(kbs))
