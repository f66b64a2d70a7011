"""kb-server as LangChain sees it: a retriever over HTTP and a VectorStore over the data dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kb_server.integrations.langchain_store import KBServerRetriever, KBVectorStore
from kb_server.settings import load_settings
from tests.support.client import KBClient
from tests.support.processes import Proc, free_port, wait_http
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

API_KEY = "langchain-key-0123456789"
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


def test_add_texts_keeps_each_texts_metadata_on_its_chunks(client: KBClient, kb: str, stack: Stack) -> None:
    settings = load_settings(data_dir=stack.data_dir, redis_url=stack.redis.url)
    store = KBVectorStore.open(settings, kb)
    try:
        ids = store.add_texts(
            [
                "Barn owls swallow their prey whole and cough up the bones as pellets.",
                "A sourdough starter is flour and water fermented by wild yeast.",
                "Kites fly best in a steady wind of ten to twenty kilometres per hour.",
            ],
            metadatas=[
                {"author": "Ada", "year": 1843, "tags": ["birds"]},
                {"author": "Alan", "url": "https://example.org/bread"},
                {},
            ],
        )
        assert len(ids) == 3
        files = client.wait_settled(kb, expected=3)
        assert [f["status"] for f in files] == ["done"] * 3, files
        owls = store.similarity_search("owl pellets of bones", k=1)[0]
        bread = store.similarity_search("wild yeast starter", k=1)[0]
        kites = store.similarity_search("flying a kite in the wind", k=1)[0]
    finally:
        store.services.close()
    assert "pellets" in owls.page_content
    assert (owls.metadata["author"], owls.metadata["year"], owls.metadata["tags"]) == ("Ada", 1843, ["birds"])
    assert (bread.metadata["author"], bread.metadata["url"]) == ("Alan", "https://example.org/bread")
    assert "author" not in kites.metadata
    assert kites.metadata["source"] == "text-2.txt"
    # The metadata is in the catalog's chunks, so the HTTP API and its retriever see it too.
    hit = client.search(kb, "owl pellets of bones", top_k=1)[0]
    assert hit["metadata"]["author"] == "Ada"
    assert KBServerRetriever(base_url=stack.base_url, kb=kb, k=1).invoke("wild yeast")[0].metadata["url"] == (
        "https://example.org/bread"
    )


@pytest.fixture
def keyed_api(stack: Stack, tmp_path: Path) -> Iterator[str]:
    """Another API process on the same data dir and Redis, with an API key."""
    port = free_port()
    env = {**stack.env(), "KB_PORT": str(port), "KB_RECOVERY_ENABLED": "false", "KB_API_KEY": API_KEY}
    proc = Proc(["api"], env, tmp_path / "keyed-api.log").start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def test_retriever_sends_its_api_key(client: KBClient, kb: str, keyed_api: str) -> None:
    client.upload(kb, [("owls.md", TEXT)])
    client.wait_settled(kb, expected=1)

    docs = KBServerRetriever(base_url=keyed_api, kb=kb, k=1, api_key=API_KEY).invoke("Why are owls silent?")
    assert [d.metadata["file_name"] for d in docs] == ["owls.md"]
    with pytest.raises(httpx.HTTPStatusError) as refused:
        KBServerRetriever(base_url=keyed_api, kb=kb, k=1).invoke("Why are owls silent?")
    assert refused.value.response.status_code == 401
