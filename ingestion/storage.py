"""The stores of uploaded bytes, vector segments and keyword blocks, on the configured backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingestion.settings import StorageBackend, StorageSettings
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
class ByteStores:
    """One byte store per bucket: uploaded bytes, and the KBs' segments and keyword blocks."""

    uploads: ByteStore
    kbs: ByteStore

    def close(self) -> None:
        """Close the database stores' connection pools (the local ones hold nothing)."""
        for store in (self.uploads, self.kbs):
            dispose = getattr(store, "dispose", None)
            if dispose is not None:
                dispose()


@dataclass(frozen=True)
class Stores:
    uploads: UploadStore
    segments: SegmentStore
    keywords: KeywordSegmentStore


def build_byte_stores(backend: StorageBackend, database_url: str, paths: StoragePaths, chunk_bytes: int) -> ByteStores:
    """The buckets on that backend: the data dir's folders, or the catalog at `database_url`."""
    match backend:
        case "local":
            return ByteStores(LocalByteStore(paths.uploads), LocalByteStore(paths.kbs))
        case "database":
            from catalog.stored_bytes import DatabaseByteStore

            return ByteStores(
                DatabaseByteStore(database_url, "uploads", paths.tmp, chunk_bytes),
                DatabaseByteStore(database_url, "kbs", paths.tmp, chunk_bytes),
            )


def build_stores(settings: StorageSettings, database_url: str, paths: StoragePaths) -> Stores:
    """The three stores over one byte store per bucket: the data dir's folders, or the catalog."""
    buckets = build_byte_stores(settings.backend, database_url, paths, settings.chunk_bytes)
    # Segments and keyword blocks share one byte store: a KB's folder holds both (`delete_kb`).
    return Stores(UploadStore(buckets.uploads, paths.tmp), SegmentStore(buckets.kbs), KeywordSegmentStore(buckets.kbs))
