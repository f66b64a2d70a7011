"""The spine over HTTP, against a real Redis, a real Celery worker process and the real model."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import httpx
import pytest

from tests.support.client import KBClient

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PARIS = (
    "# Cities\n\n## Paris\n\nParis is the capital of France. The Eiffel Tower was finished in 1889 "
    "and is the most visited paid monument in the world.\n\n## Kyoto\n\nKyoto was the imperial capital "
    "of Japan for more than a thousand years and is famous for its temples and gardens.\n"
)
GARDENING = "Tomatoes need full sun, deep watering once a week, and a stake or cage to climb.\n"


def test_upload_answers_at_once_then_ingests_and_search_finds_it(client: KBClient, kb: str) -> None:
    r = client.upload(kb, [("cities.md", PARIS.encode()), ("garden.txt", GARDENING.encode())])
    assert r.status_code == 202
    entries = r.json()["files"]
    assert [e["status"] for e in entries] == ["queued", "queued"]
    assert all(e["task_id"] and e["file_id"] and len(e["sha256"]) == 64 for e in entries)

    files = client.wait_settled(kb, expected=2)
    assert {f["status"] for f in files} == {"done"}
    assert all(f["chunks"] > 0 and f["progress"] == 1.0 and f["error"] is None for f in files)

    results = client.search(kb, "When was the Eiffel Tower built?", top_k=3)
    assert results[0]["file_name"] == "cities.md"
    assert "1889" in results[0]["text"]
    assert results == sorted(results, key=lambda h: -h["score"])
    assert all(0.0 <= h["score"] <= 1.0 for h in results)
    assert {"chunk_id", "text", "score", "file_id", "file_name", "metadata"} <= set(results[0])

    high = client.search(kb, "When was the Eiffel Tower built?", top_k=3, score_threshold=0.99)
    assert high == []


def test_file_and_task_status_are_pollable(client: KBClient, kb: str) -> None:
    [entry] = client.upload(kb, [("garden.txt", GARDENING.encode())]).json()["files"]
    client.wait_settled(kb, expected=1)
    status = client.http.get(f"/api/kbs/{kb}/files/{entry['file_id']}").json()
    assert status["status"] == "done"
    assert set(status) >= {
        "file_id",
        "name",
        "sha256",
        "size",
        "status",
        "stage",
        "progress",
        "chunks",
        "error",
        "created_at",
        "updated_at",
    }
    assert status["size"] == len(GARDENING.encode())
    task = client.http.get(f"/api/tasks/{entry['task_id']}").json()
    assert task["state"] == "SUCCESS"
    assert task["result"] == {"file_id": entry["file_id"], "chunks": status["chunks"]}
    unknown = client.http.get("/api/tasks/0123456789abcdef")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "task_not_found"


def test_duplicate_uploads_sequential_and_concurrent_make_one_file(client: KBClient, kb: str) -> None:
    body = b"The same bytes under many names: the quick brown fox jumps over the lazy dog.\n"
    first = client.upload(kb, [("a.txt", body)]).json()["files"][0]
    again = client.upload(kb, [("renamed.txt", body)]).json()["files"][0]
    assert again["status"] == "duplicate"
    assert again["file_id"] == first["file_id"]

    def upload(i: int) -> dict:
        with httpx.Client(base_url=client.base_url, timeout=60) as http:
            r = http.post(f"/api/kbs/{kb}/files", files=[("files", (f"copy{i}.txt", body))])
            assert r.status_code == 202, r.text
            return r.json()["files"][0]

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(upload, range(10)))
    assert {a["status"] for a in answers} == {"duplicate"}
    assert {a["file_id"] for a in answers} == {first["file_id"]}
    files = client.wait_settled(kb, expected=1)
    assert len(files) == 1


def test_concurrent_first_uploads_of_the_same_bytes_make_one_file(client: KBClient, kb: str) -> None:
    body = b"Ten uploads race to be first with these bytes; exactly one may win.\n"

    def upload(i: int) -> dict:
        with httpx.Client(base_url=client.base_url, timeout=60) as http:
            return http.post(f"/api/kbs/{kb}/files", files=[("files", (f"race{i}.txt", body))]).json()["files"][0]

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(upload, range(10)))
    assert sorted(a["status"] for a in answers) == ["duplicate"] * 9 + ["queued"]
    assert len({a["file_id"] for a in answers}) == 1
    assert len(client.wait_settled(kb, expected=1)) == 1


def test_delete_removes_the_file_from_search_at_once(client: KBClient, kb: str) -> None:
    entries = client.upload(kb, [("cities.md", PARIS.encode()), ("garden.txt", GARDENING.encode())]).json()["files"]
    client.wait_settled(kb, expected=2)
    query = "How should I water tomatoes?"
    assert client.search(kb, query)[0]["file_name"] == "garden.txt"

    garden = next(e for e in entries if e["name"] == "garden.txt")
    r = client.http.delete(f"/api/kbs/{kb}/files/{garden['file_id']}")
    assert r.status_code == 204
    assert all(h["file_id"] != garden["file_id"] for h in client.search(kb, query, top_k=10))
    assert client.http.get(f"/api/kbs/{kb}/files/{garden['file_id']}").status_code == 404
    assert client.http.delete(f"/api/kbs/{kb}/files/{garden['file_id']}").status_code == 404


def test_bad_files_fail_clearly_while_the_rest_of_the_batch_succeeds(client: KBClient, kb: str) -> None:
    corrupt_pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 8 + b"\ntruncated"
    r = client.upload(
        kb,
        [
            ("good.md", PARIS.encode()),
            ("broken.pdf", corrupt_pdf),
            ("program.exe", b"MZ\x90\x00\x03" + b"\x00" * 200),
            ("fake.docx", b"this is plain text, not a docx"),
            ("garden.txt", GARDENING.encode()),
        ],
    )
    assert r.status_code == 202
    by_name = {e["name"]: e for e in r.json()["files"]}
    assert by_name["program.exe"]["status"] == "rejected"
    assert by_name["program.exe"]["error"]["code"] == "unsupported_file_type"
    assert by_name["fake.docx"]["status"] == "rejected"
    assert by_name["fake.docx"]["error"]["code"] == "content_mismatch"

    files = {f["name"]: f for f in client.wait_settled(kb, expected=3)}
    assert files["good.md"]["status"] == "done"
    assert files["garden.txt"]["status"] == "done"
    assert files["broken.pdf"]["status"] == "failed"
    assert "PDF" in files["broken.pdf"]["error"]
    assert files["broken.pdf"]["error_code"] == "parse_error"
    assert client.search(kb, "Eiffel Tower")[0]["file_name"] == "good.md"


def test_a_request_of_only_unsupported_files_is_415(client: KBClient, kb: str) -> None:
    r = client.upload(kb, [("tool.exe", b"MZ\x90\x00")])
    assert r.status_code == 415
    assert r.json()["code"] == "unsupported_file_type"
    assert "not supported" in r.json()["detail"]


def test_knowledge_base_crud_and_errors_are_json(client: KBClient) -> None:
    assert client.http.post("/api/kbs", json={"name": "crud-kb", "description": "d"}).status_code == 201
    dup = client.http.post("/api/kbs", json={"name": "crud-kb"})
    assert dup.status_code == 409
    assert dup.json()["code"] == "kb_exists"
    assert any(k["name"] == "crud-kb" for k in client.http.get("/api/kbs").json()["kbs"])
    assert client.http.get("/api/kbs/crud-kb").json()["description"] == "d"
    for bad in ["../etc", "a/b", "", "x" * 65, "..", ".hidden", "a b"]:
        r = client.http.post("/api/kbs", json={"name": bad})
        assert r.status_code == 422, bad
        assert r.json()["code"] == "invalid_request"
    assert client.http.delete("/api/kbs/crud-kb").status_code == 204
    missing = client.http.get("/api/kbs/crud-kb")
    assert missing.status_code == 404
    assert missing.json() == {"code": "kb_not_found", "detail": "knowledge base 'crud-kb' does not exist"}
    assert client.http.post("/api/kbs/nope/search", json={"query": "x"}).status_code == 404
    assert client.http.post("/api/kbs/nope/files", files=[("files", ("a.txt", b"a"))]).status_code == 404


def test_deleting_a_kb_removes_its_files_from_disk(client: KBClient, stack_data_dir: Path) -> None:
    client.create_kb("doomed")
    body = b"A file that only the doomed knowledge base holds, and nobody else.\n"
    [entry] = client.upload("doomed", [("only.txt", body)]).json()["files"]
    client.wait_settled("doomed", expected=1)
    blob = stack_data_dir / "uploads" / entry["sha256"][:2] / entry["sha256"]
    assert blob.exists()
    assert client.http.delete("/api/kbs/doomed").status_code == 204
    assert not blob.exists()
    assert client.http.get("/api/kbs/doomed/files").status_code == 404


def test_reingest_keeps_the_file_and_its_chunk_ids(client: KBClient, kb: str) -> None:
    [entry] = client.upload(kb, [("cities.md", PARIS.encode())]).json()["files"]
    before = client.wait_settled(kb, expected=1)[0]
    ids_before = {h["chunk_id"] for h in client.search(kb, "Kyoto temples", top_k=10)}
    r = client.http.post(f"/api/kbs/{kb}/files/{entry['file_id']}/reingest")
    assert r.status_code == 202
    assert r.json()["task_id"] != entry["task_id"]
    after = client.wait_settled(kb, expected=1)[0]
    assert after["status"] == "done"
    assert after["chunks"] == before["chunks"]
    assert {h["chunk_id"] for h in client.search(kb, "Kyoto temples", top_k=10)} == ids_before
    assert client.http.get(f"/api/tasks/{entry['task_id']}").json()["state"] == "SUCCESS"


def test_health_and_readiness(client: KBClient) -> None:
    assert client.http.get("/healthz").json() == {"status": "ok"}
    ready = client.http.get("/readyz").json()
    assert ready["ready"] is True
    assert ready["checks"] == {"broker": True, "worker": True, "model": True}
