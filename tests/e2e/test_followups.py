"""Follow-up questions through the real stack: searched as standalone questions, retried turns
stored once, a conversation's KB used when `kb` is left out, and `eval --dialogues`."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from kb_server.cli.ask import ask, iter_sse
from tests.support.client import KBClient
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
# The follow-up shares no word with its passage: only the first question says what "it" is. Every
# other page is about configuring something after installing it, so as typed it finds those.
PAGES = {
    "frobnicator-install.md": "# Installing the Frobnicator\n\nThe Frobnicator is installed with "
    "`pip install frobnicator`; it needs Python 3.11 or later and a C compiler for its extension.",
    "frobnicator-settings.md": "# Frobnicator settings\n\nThe Frobnicator reads frob.toml at start-up: set "
    "`colour`, `speed` and `log_level` there, then restart it so the new values take effect.",
    "router.md": "# How do I configure the router afterwards?\n\nAfter installing the router, configure it "
    "afterwards from a browser at 192.168.1.1: choose a Wi-Fi name and a password.",
    "printer.md": "# How do I configure the printer afterwards?\n\nOnce the printer is installed, configure "
    "it afterwards from its front panel: pick the paper size and the default tray.",
    "mail.md": "# How do I configure mail afterwards?\n\nAfter installing the mail client, configure it "
    "afterwards with your server name, port 993 and your password.",
    "backup.md": "# How do I configure backups afterwards?\n\nOnce the backup tool is installed, configure it "
    "afterwards: pick the folders to copy and how often to copy them.",
}
FIRST = "How do I install the Frobnicator?"
FOLLOW_UP = "and how do I configure it afterwards?"
TARGET = "frobnicator-settings.md"


@pytest.fixture(scope="module")
def gadgets(client: KBClient) -> str:
    client.create_kb("gadgets")
    assert client.upload("gadgets", [(n, t.encode()) for n, t in PAGES.items()]).status_code == 202
    assert [f["status"] for f in client.wait_settled("gadgets", expected=len(PAGES))] == ["done"] * len(PAGES)
    return "gadgets"


def _chat(http: httpx.Client, **body: Any) -> dict[str, Any]:
    r = http.post("/api/chat", json={"mode": "quote", "top_k": 2, **body})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _files(answer: dict[str, Any]) -> list[str]:
    return [c["file_name"] for c in answer["citations"]]


def test_a_follow_up_finds_its_passage_only_when_searched_as_a_standalone_question(
    client: KBClient, gadgets: str
) -> None:
    http = client.http
    cid = http.post("/api/conversations", json={"kb": gadgets}).json()["id"]
    first = _chat(http, kb=gadgets, question=FIRST, conversation_id=cid)
    assert (first["searched_for"], first["conversation_id"]) == (None, cid)  # nothing to lean on yet
    assert _files(first)[0] == "frobnicator-install.md"

    # Quote mode, so the key terms (not SmolLM2) make it standalone: deterministic.
    with http.stream(
        "POST", "/api/chat", json={"question": FOLLOW_UP, "conversation_id": cid, "mode": "quote", "stream": True}
    ) as r:
        assert r.status_code == 200
        event, done = list(iter_sse(r.iter_lines()))[-1]
    assert event == "done"
    assert done["searched_for"] == f"{FOLLOW_UP} (install Frobnicator)"
    assert TARGET in _files(done)
    stored = http.get(f"/api/conversations/{cid}").json()["messages"]
    assert [m["content"] for m in stored[::2]] == [FIRST, FOLLOW_UP]  # the question as asked is kept
    assert [m["searched_for"] for m in stored[1::2]] == [None, done["searched_for"]]  # with what it was searched for

    printed = io.StringIO()  # `kb-server ask --conversation`: the model's turn, and what it searched for
    assert ask(str(client.http.base_url), [], FOLLOW_UP, 2, out=printed, conversation_id=cid) == 0
    assert "(searched for: " in printed.getvalue()

    as_typed = _chat(http, question=FOLLOW_UP, conversation_id=cid, rewrite=False)
    assert as_typed["searched_for"] is None
    assert TARGET not in _files(as_typed)

    # Without a conversation, the client's history does the same; and the OpenAI face rewrites too.
    history = [{"role": "user", "content": FIRST}, {"role": "assistant", "content": first["answer"]}]
    assert TARGET in _files(_chat(http, kb=gadgets, question=FOLLOW_UP, history=history))
    r = http.post(
        "/v1/chat/completions",
        json={"model": gadgets, "messages": [*history, {"role": "user", "content": FOLLOW_UP}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["searched_for"]  # by SmolLM2, or by the key terms when its reply is unusable


def test_the_llm_rewrite_comes_back_cleaned_or_falls_back_to_key_terms(client: KBClient, gadgets: str) -> None:
    history = [{"role": "user", "content": FIRST}, {"role": "assistant", "content": "Run pip install frobnicator [1]."}]
    r = client.http.post("/api/chat/standalone", json={"question": FOLLOW_UP, "history": history, "method": "llm"})
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["method"] in ("llm", "keywords")
    assert found["searched_for"]
    assert "\n" not in found["searched_for"]
    keywords = client.http.post(
        "/api/chat/standalone", json={"question": FOLLOW_UP, "history": history, "method": "keywords"}
    ).json()
    assert keywords == {
        "question": FOLLOW_UP,
        "searched_for": f"{FOLLOW_UP} (install Frobnicator)",
        "method": "keywords",
        "query": FOLLOW_UP,
        "context": "install Frobnicator",
    }
    # Searched as chat searches it: the question, with the carried words as context.
    hits = client.http.post(
        f"/api/kbs/{gadgets}/search", json={"query": keywords["query"], "context": keywords["context"]}
    )
    assert hits.status_code == 200, hits.text
    assert "frobnicator" in hits.json()["results"][0]["text"].lower()


def _chat_requests(http: httpx.Client) -> float:
    lines = http.get("/metrics").text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith("kb_chat_requests_total{"))


def test_a_retried_turn_is_answered_from_the_store_and_kept_once(client: KBClient, gadgets: str) -> None:
    http = client.http
    cid = http.post("/api/conversations", json={"kb": gadgets}).json()["id"]
    body = {
        "question": FIRST,
        "conversation_id": cid,
        "turn_id": "turn-1",
        "mode": "generate",
    }  # no `kb`: the conversation's
    first = _chat(http, **body)
    assert first["conversation_id"] == cid
    before = _chat_requests(http)
    assert _chat(http, **body) == first  # the retry: nothing generated, the same answer
    with http.stream("POST", "/api/chat", json={**body, "stream": True}) as r:
        events = list(iter_sse(r.iter_lines()))
    assert [e for e, _ in events] == ["citations", "done"]
    assert events[-1][1] == first
    assert _chat_requests(http) == before
    assert http.get(f"/api/conversations/{cid}").json()["turns"] == 1

    reused = http.post("/api/chat", json={**body, "question": "Something else?"})
    assert (reused.status_code, reused.json()["code"]) == (409, "turn_id_reused")
    other_kb = http.post("/api/chat", json={**body, "kb": "python-faq-nope", "turn_id": "turn-2"})
    assert (other_kb.status_code, other_kb.json()["code"]) == (409, "conversation_kb_mismatch")
    assert "gadgets" in other_kb.json()["detail"]
    assert http.post("/api/chat", json={"question": FIRST}).status_code == 422  # neither kb nor conversation
    assert http.get(f"/api/conversations/{cid}").json()["turns"] == 1


def test_eval_dialogues_prints_every_run_and_writes_the_csv(
    stack: Stack, faq_kb: dict[str, Any], shared_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dialogues.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kb_server",
            "eval",
            "--data-dir",
            str(tmp_path / "cli-data"),
            "--url",
            stack.base_url,
            "--kb",
            "python-faq",
            "--dialogues",
            str(REPO / "tests" / "fixtures" / "dialogues" / "en.jsonl"),
            "--reference",
            str(shared_data / "python-faq" / "qa.jsonl"),
            "--limit",
            "3",
            "--csv",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    lines = done.stdout.splitlines()
    assert lines[0].split()[:7] == ["run", "n", "hit@1", "hit@5", "MRR@10", "rewrite", "p50"]
    assert [line[:16].strip() for line in lines[1:5]] == ["turn 1", "turn 2 as typed", "turn 2 keywords", "turn 2 llm"]
    assert all(line[16:].split()[0] == "3" for line in lines[1:5])
    assert lines[3].split()[-1].endswith("s")  # the keyword rewrite's median time
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "id,run,question,searched_for,method,rank,top_file,top_text"
    assert len(rows) == 1 + 3 * 4
