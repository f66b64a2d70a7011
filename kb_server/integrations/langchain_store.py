"""kb-server for LangChain users: a `VectorStore` in-process, or a retriever over HTTP.

    store = KBVectorStore.open(load_settings(), kb="faq")   # same data dir as the server
    docs = store.as_retriever(search_kwargs={"k": 4}).invoke("How do I make a binary?")

    retriever = KBServerRetriever(base_url="http://127.0.0.1:8077", kb="faq", k=4, api_key="…")

`add_texts` goes through kb-server's own ingestion (one queued file per text) rather than writing
vectors directly, so the duplicate policy, chunking and crash-safety stay the same for every path.
A text with metadata is queued as a LangChain-serialised Document (`text-N.json`), which ingestion
reads as its text with the metadata kept on each chunk: the metadata is part of the file, so it
survives re-ingestion and takes part in the duplicate check (same text, other metadata: another file).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import httpx
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from pydantic import SecretStr

from catalog import repository
from kb_server.runtime.container import Services, build_services
from kb_server.schemas import SearchHit
from kb_server.services import files as file_service
from kb_server.services import search as search_service
from kb_server.services.kb_embedders import kb_embedder
from kb_server.settings import Settings
from vectorstore import Embedder


def _document(hit: SearchHit | dict[str, Any]) -> Document:
    h = hit if isinstance(hit, dict) else hit.model_dump()
    meta = {
        **h["metadata"],
        "chunk_id": h["chunk_id"],
        "file_id": h["file_id"],
        "file_name": h["file_name"],
        "score": h["score"],
        "kb": h.get("kb"),
    }
    return Document(page_content=h["text"], metadata=meta, id=str(h["chunk_id"]))


def _as_file(i: int, text: str, metadata: dict[str, Any] | None) -> file_service.IncomingFile:
    """A plain text as `.txt`; with metadata, as the JSON that `langchain_core.load.dumpd` makes of a Document."""
    if not metadata:
        return file_service.IncomingFile(f"text-{i}.txt", io.BytesIO(text.encode("utf-8")))
    document = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "document", "Document"],
        "kwargs": {"page_content": text, "metadata": metadata, "type": "Document"},
    }
    body = json.dumps(document, ensure_ascii=False, default=str).encode("utf-8")
    return file_service.IncomingFile(f"text-{i}.json", io.BytesIO(body))


class _EmbedderAdapter(Embeddings):
    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in self._embedder.embed_documents(texts)]

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self._embedder.embed_query(text)))


class KBVectorStore(VectorStore):
    """One knowledge base of a kb-server data dir as a LangChain vector store."""

    def __init__(self, services: Services, kb: str) -> None:
        self.services = services
        self.kb = kb

    @classmethod
    def open(cls, settings: Settings, kb: str) -> KBVectorStore:
        """Open the data dir of `settings` (loads the embedding model)."""
        return cls(build_services(settings), kb)

    @property
    def embeddings(self) -> Embeddings:
        """The embedder the knowledge base was built with (loaded on first use).

        Raises:
            NotFound: no such knowledge base.
            EmbedderMismatch, EmbedderUnavailable: no embedder here makes its vectors, or it cannot be loaded.
        """
        _, embedder = kb_embedder(self.services, repository.get_kb(self.services.db, self.kb))
        return _EmbedderAdapter(embedder)

    def similarity_search_with_score(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[Document, float]]:
        hits = search_service.search(self.services, self.kb, query, k, kwargs.get("score_threshold"))
        return [(_document(h), h.score) for h in hits]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return self.similarity_search_with_score(query, k, **kwargs)

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> list[str]:
        """Queue each text as a file for ingestion; returns the file ids (as strings).

        Each text's metadata ends up in the metadata of its chunks, except `source`: kb-server sets
        that to the file's name (`text-N.json`). Values that are not JSON are stored as strings.

        Raises:
            ValueError: `metadatas` is not one dict per text.
        """
        texts = list(texts)
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"{len(metadatas)} metadatas for {len(texts)} texts: give one per text")
        incoming = [_as_file(i, text, metadatas[i] if metadatas else None) for i, text in enumerate(texts)]
        # Names repeat across calls (`text-0.json`...): each text is its own document, never a version.
        accepted = file_service.upload_files(self.services, self.kb, incoming, replace=False)
        return [str(a.file_id) for a in accepted if a.file_id is not None]

    @classmethod
    def from_texts(
        cls, texts: list[str], embedding: Embeddings, metadatas: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> KBVectorStore:
        raise NotImplementedError("open an existing knowledge base with KBVectorStore.open(settings, kb=...)")


class KBServerRetriever(BaseRetriever):
    """A retriever that asks a running kb-server's search over HTTP: one KB (`kb`), or several
    (`kbs`, fused on score; each document's metadata names its `kb`)."""

    base_url: str
    kb: str = ""
    kbs: list[str] | None = None
    k: int = 4
    score_threshold: float | None = None
    timeout_s: float = 30.0
    api_key: SecretStr | None = None
    """The server's `api_key` (KB_API_KEY), sent as `X-API-Key`; None for a server without one."""

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        body: dict[str, Any] = {"query": query, "top_k": self.k}
        body.update({"kbs": self.kbs} if self.kbs else {"kb": self.kb})
        if self.score_threshold is not None:
            body["score_threshold"] = self.score_threshold
        headers = {"X-API-Key": self.api_key.get_secret_value()} if self.api_key else {}
        r = httpx.post(f"{self.base_url.rstrip('/')}/api/search", json=body, headers=headers, timeout=self.timeout_s)
        r.raise_for_status()
        return [_document(h) for h in r.json()["results"]]
