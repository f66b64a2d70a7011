"""kb-server as LangChain sees it: a retriever over HTTP and a VectorStore over the data dir."""

from __future__ import annotations

import pytest

from kb_server.integrations.langchain_store import KBServerRetriever, KBVectorStore
from kb_server.settings import load_settings
from tests.support.client import KBClient
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

TEXT = b"# Owls\n\nOwls hunt at night; their feathers are soft so their flight makes almost no sound.\n"


def test_retriever_and_vector_store_return_documents_with_citations(client: KBClient, kb: str, stack: Stack) -> None:
    client.upload(kb, [("owls.md", TEXT), ("other.txt", b"Bread needs flour, water, salt and yeast.\n")])
    client.wait_settled(kb, expected=2)

    docs = KBServerRetriever(base_url=stack.base_url, kb=kb, k=2).invoke("Why are owls silent when flying?")
    assert docs[0].metadata["file_name"] == "owls.md"
    assert "feathers" in docs[0].page_content
    assert 0 < docs[0].metadata["score"] <= 1

    settings = load_settings(data_dir=stack.data_dir, redis_url=stack.redis.url)
    store = KBVectorStore.open(settings, kb)
    try:
        found = store.as_retriever(search_kwargs={"k": 1}).invoke("silent flight of owls")
        assert [d.metadata["file_name"] for d in found] == ["owls.md"]
        assert found[0].id == str(found[0].metadata["chunk_id"])
        ids = store.add_texts(["Sourdough uses a starter of wild yeast instead of baker's yeast."])
        assert len(ids) == 1
        client.wait_settled(kb, expected=3)
        assert "starter" in store.similarity_search("what is a sourdough starter", k=1)[0].page_content
    finally:
        store.services.close()
