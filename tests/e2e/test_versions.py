"""New versions against the real stack: a revised document takes over from its old version with
no gap and no double in search, a broken new version leaves the old one serving, keep_both keeps
both, and the old version leaves nothing behind."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.test_cancel import file_of, leftovers
from tests.reliability.corpus import notes
from tests.reliability.probe import doctor
from tests.support.stack import Stack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PARAGRAPHS = 6


def handbook(tag: str) -> tuple[str, bytes, bytes]:
    """A note of PARAGRAPHS chunks and a revision of it with its last paragraph rewritten."""
    name, body = notes(1, f"handbook-{tag}", paragraphs=PARAGRAPHS)[0]
    text = body.decode()
    head, _, last = text.rpartition("\n\n")
    revised = f"{head}\n\n" + last.replace(f"Paragraph {PARAGRAPHS - 1} ", f"Revised paragraph {PARAGRAPHS - 1} ", 1)
    return name, text.encode(), revised.encode()


def settled(stack: Stack, kb: str, file_id: int) -> dict[str, Any]:
    wait_for(
        f"file {file_id} settled",
        lambda: file_of(stack.client, kb, file_id)["status"] in ("done", "failed", "cancelled"),
        timeout_s=120,
        interval_s=0.2,
    )
    return file_of(stack.client, kb, file_id)


def test_a_revised_document_replaces_its_old_version_with_no_gap_and_no_double(stack: Stack, kb: str) -> None:
    client = stack.client
    tag = uuid.uuid4().hex[:8]
    name, original, revised = handbook(tag)
    (first,) = client.upload(kb, [(name, original)]).json()["files"]
    assert (first["status"], first["version"], first["replaces"]) == ("queued", 1, None)
    assert settled(stack, kb, first["file_id"])["status"] == "done"

    seen: list[set[int]] = []
    stop = threading.Event()

    def poll() -> None:  # what every search during the swap returned of this document
        with httpx.Client(base_url=stack.base_url, timeout=30) as http:
            while not stop.is_set():
                r = http.post(f"/api/kbs/{kb}/search", json={"query": f"handbook-{tag} paragraph", "top_k": 20})
                assert r.status_code == 200, r.text
                seen.append({h["file_id"] for h in r.json()["results"] if h["file_name"] == name})

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        wait_for("the first search", lambda: len(seen) >= 2, 30, 0.05)
        (second,) = client.upload(kb, [(name, revised)]).json()["files"]
        assert (second["status"], second["version"], second["replaces"]) == ("queued", 2, first["file_id"])
        record = settled(stack, kb, second["file_id"])
        wait_for("a search after the swap", lambda: bool(seen) and seen[-1] == {second["file_id"]}, 30, 0.1)
    finally:
        stop.set()
        poller.join(60)

    assert record["status"] == "done", record
    assert (record["version"], record["replaces"]) == (2, first["file_id"])
    assert record["replaced_at"] is not None
    # Every response served exactly one version, the old one until the swap and the new one after.
    assert all(len(ids) == 1 for ids in seen), seen
    order = [next(iter(ids)) for ids in seen]
    assert order[0] == first["file_id"]
    assert order == sorted(order, key=lambda fid: fid == second["file_id"]), "the old version came back"
    # Only the rewritten passage was embedded again: the other ones came from the vector cache.
    assert record["chunks"] == PARAGRAPHS
    assert record["cached_chunks"] == PARAGRAPHS - 1, record
    # The old version left nothing behind: row, chunks, segment, keyword block, bytes.
    assert client.http.get(f"/api/kbs/{kb}/files/{first['file_id']}").status_code == 404
    assert [f["file_id"] for f in client.files(kb)] == [second["file_id"]]
    assert leftovers(stack, kb, [first["file_id"]]) == {"chunk rows": [], "segments": [], "keyword blocks": []}
    blob = stack.data_dir / "uploads" / first["sha256"][:2] / first["sha256"]
    wait_for("the old bytes removed", lambda: not blob.exists(), 10, 0.1)
    old = str(first["file_id"])
    found = [
        f
        for f in doctor(stack.data_dir, stack.redis.url).findings
        if first["sha256"] in f.detail or f"/{old}." in f.detail or (f.check == "orphan_chunks" and old in f.detail)
    ]
    assert not found, [(f.check, f.detail) for f in found]


def test_a_broken_new_version_leaves_the_old_one_serving_and_says_why(stack: Stack, kb: str) -> None:
    client = stack.client
    tag = uuid.uuid4().hex[:8]
    name, original, _ = handbook(tag)
    (first,) = client.upload(kb, [(name, original)]).json()["files"]
    assert settled(stack, kb, first["file_id"])["status"] == "done"

    (broken,) = client.upload(kb, [(name, b"   \n\n   \n")]).json()["files"]  # no text at all
    assert broken["replaces"] == first["file_id"]
    record = settled(stack, kb, broken["file_id"])

    assert (record["status"], record["error_code"]) == ("failed", "empty_document"), record
    assert record["replaced_at"] is None
    assert file_of(client, kb, first["file_id"])["status"] == "done"
    hits = client.search(kb, f"handbook-{tag} paragraph", top_k=20)
    assert {h["file_id"] for h in hits if h["file_name"] == name} == {first["file_id"]}


def test_keep_both_keeps_both_and_same_bytes_stay_a_duplicate(stack: Stack, kb: str) -> None:
    client = stack.client
    tag = uuid.uuid4().hex[:8]
    name, original, revised = handbook(tag)
    (first,) = client.upload(kb, [(name, original)]).json()["files"]
    url = f"/api/kbs/{kb}/files"
    again = client.http.post(url, files=[("files", (name, original))]).json()["files"][0]
    assert (again["status"], again["file_id"]) == ("duplicate", first["file_id"])
    bad = client.http.post(url, files=[("files", (name, revised))], data={"on_existing_name": "overwrite"})
    assert bad.status_code == 400, bad.text

    kept = client.http.post(url, files=[("files", (name, revised))], data={"on_existing_name": "keep_both"})
    assert kept.status_code == 202, kept.text
    (both,) = kept.json()["files"]
    assert (both["version"], both["replaces"]) == (1, None)
    assert settled(stack, kb, first["file_id"])["status"] == "done"
    assert settled(stack, kb, both["file_id"])["status"] == "done"
    hits = client.search(kb, f"handbook-{tag} paragraph", top_k=20)
    assert {h["file_id"] for h in hits} == {first["file_id"], both["file_id"]}
