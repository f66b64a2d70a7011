"""Embeddings and the FAISS-backed, segment-per-file vector store."""

from vectorstore.embedders import Embedder, build_embedder
from vectorstore.errors import EmbedderUnavailable, RerankerUnavailable, SegmentCorrupt, VectorStoreError
from vectorstore.kb_index import KBIndex, KBIndexRegistry
from vectorstore.rerank import Reranker, build_reranker
from vectorstore.segments import Segment, SegmentStore
from vectorstore.settings import EmbeddingSettings, RerankSettings

__all__ = [
    "Embedder",
    "EmbedderUnavailable",
    "EmbeddingSettings",
    "KBIndex",
    "KBIndexRegistry",
    "RerankSettings",
    "Reranker",
    "RerankerUnavailable",
    "Segment",
    "SegmentCorrupt",
    "SegmentStore",
    "VectorStoreError",
    "build_embedder",
    "build_reranker",
]
