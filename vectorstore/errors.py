"""Errors of the vector store.

VectorStoreError
 ├── EmbedderUnavailable   the model cannot be found or loaded (offline, missing weights)
 ├── RerankerUnavailable   the configured cross-encoder cannot be found or loaded
 └── SegmentCorrupt        a segment file on disk cannot be read
"""


class VectorStoreError(Exception):
    """Base of every vectorstore error."""


class EmbedderUnavailable(VectorStoreError):
    """The configured embedding model cannot be loaded."""


class RerankerUnavailable(VectorStoreError):
    """The configured reranker cannot be loaded."""


class SegmentCorrupt(VectorStoreError):
    """A persisted segment could not be read back."""
