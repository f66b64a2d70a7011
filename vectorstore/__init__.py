"""Embeddings and the FAISS-backed, segment-per-file vector store."""

from vectorstore.embedders import Embedder, build_embedder
from vectorstore.errors import EmbedderUnavailable, SegmentCorrupt, VectorStoreError
from vectorstore.kb_index import KBIndex, KBIndexRegistry
from vectorstore.segments import Segment, SegmentStore
from vectorstore.settings import EmbeddingSettings

__all__ = [
    "Embedder",
    "EmbedderUnavailable",
    "EmbeddingSettings",
    "KBIndex",
    "KBIndexRegistry",
    "Segment",
    "SegmentCorrupt",
    "SegmentStore",
    "VectorStoreError",
    "build_embedder",
]
