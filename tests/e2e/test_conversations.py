"""Conversations kept on the server, through the real stack (SmolLM2): turns stored with their
citations, kept across API processes, separate per client, gone with their messages when deleted."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kb_server.cli.ask import iter_sse
from kb_server.runtime.paths import DataPaths
from tests.e2e.test_chat import DOC, QUESTION
from tests.support.client import KBClient

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FOLLOW_UP = "How many eggs does the queen lay?"
# What is rendered again: the answer and everything the UI draws it with.
KEPT = ("citations", "sentences", "refused", "refused_by")


@pytest.fixture(scope="module")
def hive(client: KBClient) -> str:
    client.create_kb("hive")
    client.upload("hive", [("bees.md", DOC.encode())])
    assert client.wait_settled("hive", expected=1)[0]["status"] == "done"
    return "hive"


def _create(http: httpx.Client, kb: str, owner: str | None = None, **body: Any) -> dict[str, Any]:
    r = http.post("/api/conversations", json={"kb": kb, **body}, headers=_as(owner))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _as(owner: str | None) -> dict[str, str]:
    return {"X-Client-Id": owner} if owner else {}


def _stream(http: httpx.Client, body: dict[str, Any], owner: str | None = None) -> list[tuple[str, Any]]:
    with http.stream("POST", "/api/chat", json={**body, "stream": True}, headers=_as(owner)) as r:
        assert r.status_code == 200
        return list(iter_sse(r.iter_lines()))


def _stored_messages(data_dir: Path, conversation_id: int) -> int:
    with sqlite3.connect(DataPaths(data_dir).database) as db:
        row = db.execute("SELECT count(*) FROM messages WHERE conversation_id = ?", (conversation_id,)).fetchone()
        return int(row[0])


def test_two_turns_are_kept_with_their_citations_and_survive_a_restart(
    client: KBClient, hive: str, second_api: Callable[..., str]
) -> None:
    conversation = _create(client.http, hive)
    assert (conversation["title"], conversation["kb"], conversation["turns"]) == ("", hive, 0)
    cid = conversation["id"]

    r = client.http.post("/api/chat", json={"kb": hive, "question": QUESTION, "conversation_id": cid})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["citations"]  # answered or refused by the model, the passages it was given are kept
    events = _stream(client.http, {"kb": hive, "question": FOLLOW_UP, "conversation_id": cid})
    assert events[-1][0] == "done", events[-3:]
    second = events[-1][1]

    r = client.http.get(f"/api/conversations/{cid}")
    assert r.status_code == 200
    stored = r.json()
    assert (stored["title"], stored["turns"]) == (QUESTION, 2)  # named after the first question
    messages = stored["messages"]
    assert [(m["position"], m["role"]) for m in messages] == [
        (0, "user"),
        (1, "assistant"),
        (2, "user"),
        (3, "assistant"),
    ]
    assert [messages[0]["content"], messages[2]["content"]] == [QUESTION, FOLLOW_UP]
    for message, answer in ((messages[1], first), (messages[3], second)):
        assert message["content"] == answer["answer"]
        assert {k: message[k] for k in KEPT} == {k: answer[k] for k in KEPT}
    assert messages[1]["citations"][0]["file_name"] == "bees.md"
    assert client.http.get("/api/conversations").json()["conversations"][0]["id"] == cid

    # Another API process (as after a restart) reads the same conversation from the catalog.
    with httpx.Client(base_url=second_api(), timeout=60) as other:
        again = other.get(f"/api/conversations/{cid}")
        assert again.status_code == 200
        assert again.json() == stored
        third = {"kb": hive, "question": "And the queen?", "conversation_id": cid, "mode": "quote"}
        assert other.post("/api/chat", json=third).status_code == 200
    assert client.http.get(f"/api/conversations/{cid}").json()["turns"] == 3


def test_an_answer_finished_after_its_conversation_was_deleted_is_not_stored(
    client: KBClient, hive: str, stack_data_dir: Path
) -> None:
    cid = _create(client.http, hive)["id"]
    body = {"kb": hive, "question": QUESTION, "conversation_id": cid, "stream": True, "mode": "generate"}
    with client.http.stream("POST", "/api/chat", json=body) as r:
        assert r.status_code == 200
        events = iter_sse(r.iter_lines())
        assert next(events)[0] == "citations"
        assert client.http.delete(f"/api/conversations/{cid}").status_code == 204  # while the model writes
        rest = list(events)
    assert rest[-1] == ("error", {"code": "conversation_not_found", "detail": f"conversation {cid} does not exist"})
    assert _stored_messages(stack_data_dir, cid) == 0


def test_each_client_sees_only_its_own_conversations(client: KBClient, hive: str) -> None:
    http = client.http
    alices = _create(http, hive, "alice", title="  Alice's   bees ")
    assert alices["title"] == "Alice's bees"
    bobs = _create(http, hive, "bob")

    def ids(owner: str) -> list[int]:
        return [c["id"] for c in http.get("/api/conversations", headers=_as(owner)).json()["conversations"]]

    assert ids("alice") == [alices["id"]]
    assert ids("bob") == [bobs["id"]]
    assert alices["id"] not in ids("")
    assert bobs["id"] not in ids("")
    path = f"/api/conversations/{alices['id']}"
    chat = {"kb": hive, "question": QUESTION, "conversation_id": alices["id"], "mode": "quote"}
    for r in (
        http.get(path, headers=_as("bob")),
        http.patch(path, json={"title": "mine"}, headers=_as("bob")),
        http.delete(path, headers=_as("bob")),
        http.post("/api/chat", json=chat, headers=_as("bob")),
        http.post("/api/chat", json={**chat, "stream": True}, headers=_as("bob")),  # before any event
        http.post("/api/chat", json={**chat, "conversation_id": 10**9}, headers=_as("alice")),
    ):
        assert (r.status_code, r.json()["code"]) == (404, "conversation_not_found"), r.text
    assert http.get(path, headers=_as("alice")).json()["turns"] == 0  # nothing was appended for bob

    assert http.post("/api/conversations", json={"kb": "no-such-kb"}).json()["code"] == "kb_not_found"
    bad = http.get("/api/conversations", headers={"X-Client-Id": "a b/c"})
    assert bad.status_code == 422
    for huge in (2**31, 2**64):  # beyond the catalog's ids: invalid, not a database error
        assert http.get(f"/api/conversations/{huge}").status_code == 422
        assert http.post("/api/chat", json={**chat, "conversation_id": huge}).status_code == 422


def test_rename_then_delete_removes_its_messages(client: KBClient, hive: str, stack_data_dir: Path) -> None:
    http = client.http
    cid = _create(http, hive)["id"]
    long_question = f"{QUESTION} Please describe every step, from the flower to the jar on the shelf."
    r = http.post("/api/chat", json={"kb": hive, "question": long_question, "conversation_id": cid, "mode": "quote"})
    assert r.status_code == 200, r.text
    title = http.get(f"/api/conversations/{cid}").json()["title"]
    assert title.startswith(QUESTION)
    assert title.endswith("…")
    assert len(title) <= 60
    assert _stored_messages(stack_data_dir, cid) == 2

    assert http.patch(f"/api/conversations/{cid}", json={"title": "  "}).status_code == 422
    renamed = http.patch(f"/api/conversations/{cid}", json={"title": "Honey"})
    assert (renamed.status_code, renamed.json()["title"]) == (200, "Honey")
    assert http.get(f"/api/conversations/{cid}").json()["title"] == "Honey"

    assert http.delete(f"/api/conversations/{cid}").status_code == 204
    assert http.get(f"/api/conversations/{cid}").status_code == 404
    assert http.delete(f"/api/conversations/{cid}").status_code == 404
    assert _stored_messages(stack_data_dir, cid) == 0
    assert cid not in [c["id"] for c in http.get("/api/conversations").json()["conversations"]]
