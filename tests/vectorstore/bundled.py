"""The bundled all-MiniLM-L6-v2 embedder, loaded once per test session for every test package."""

from __future__ import annotations

import functools

from vectorstore import Embedder, EmbeddingSettings, build_embedder


@functools.cache
def bundled_embedder() -> Embedder:
    return build_embedder(EmbeddingSettings())
