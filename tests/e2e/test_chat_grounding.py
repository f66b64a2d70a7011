"""Every sentence of a chat answer cited from the passage it comes from, invented ones flagged:
with the real SmolLM2 (whatever it says, the sentences add up) and with a canned model (exactly
which sentence cites what), through /api/chat, its stream, /v1/chat/completions and `kb-server ask`."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest

from kb_server.cli.ask import iter_sse
from tests.e2e.test_chat import DOC, QUESTION
from tests.support.client import KBClient
from tests.support.processes import REPO
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def honey(stack: Stack) -> str:
    stack.client.create_kb("honey")
    stack.client.upload("honey", [("bees.md", DOC.encode())])
    assert stack.client.wait_settled("honey", expected=1)[0]["status"] == "done"
    return "honey"


def _check_sentences(body: dict) -> list[dict]:
    """The response's sentences cite only its passages and are exactly what `answer` says."""
    sentences = body["sentences"]
    assert sentences
    numbers = {c["n"] for c in body["citations"]}
    for s in sentences:
        assert set(s["citations"]) <= numbers
        assert not re.search(r"\[\d+\]", s["text"]), "the model's own markers are taken out"
        if s["citations"]:
            assert s["text"] + "".join(f"[{n}]" for n in s["citations"]) in body["answer"]
    assert body["unsupported"] == sum(s["unsupported"] for s in sentences)
    rebuilt = "".join(s["before"] + s["text"] + "".join(f"[{n}]" for n in s["citations"]) for s in sentences)
    assert rebuilt.strip() == body["answer"]
    return sentences


def test_a_generated_answer_comes_back_sentence_by_sentence(client: KBClient, honey: str) -> None:
    """SmolLM2 copies some answers and invents others: whichever it did, the sentences add up."""
    body = client.http.post("/api/chat", json={"kb": honey, "question": QUESTION}).json()
    if body["refused"]:  # nothing of it was in the passages: refused, the passages still cited
        assert (body["refused_by"], body["sentences"]) == ("unsupported", [])
        assert body["citations"]
    else:
        _check_sentences(body)
    metrics = client.http.get("/metrics").text
    assert 'kb_chat_sentences_total{support="supported"}' in metrics
    assert 'kb_chat_sentences_total{support="unsupported"}' in metrics


# What a model might say about the bees page: two sentences from it (one cited by the model, one
# not) and one it made up.
CANNED = (
    "Worker bees collect nectar from flowers and store it in their honey stomach. "
    "They fan it with their wings until most of the water evaporates [1].\n\n"
    "- Bees were first kept on the Moon by Roman astronauts."
)


@pytest.fixture(scope="module")
def canned_llm() -> Iterator[str]:
    """An OpenAI-compatible server that always answers CANNED (streamed word by word when asked)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._json({"object": "list", "data": [{"id": "canned", "object": "model"}]})

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not request.get("stream"):
                usage = {"prompt_tokens": 10, "completion_tokens": 30}
                self._json({"choices": [{"message": {"content": CANNED}, "finish_reason": "stop"}], "usage": usage})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for word in re.findall(r"\S+\s*", CANNED):
                chunk = {"choices": [{"delta": {"content": word}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def _json(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_each_sentence_cites_the_passage_it_comes_from_and_an_invented_one_is_flagged(
    second_api: Callable[..., str], canned_llm: str, honey: str
) -> None:
    url = second_api(KB_LLM__BACKEND="openai", KB_LLM__OPENAI__BASE_URL=canned_llm)
    body = httpx.post(f"{url}/api/chat", json={"kb": honey, "question": QUESTION}, timeout=60).json()
    sentences = _check_sentences(body)
    assert [(s["citations"], s["unsupported"], s["before"]) for s in sentences] == [
        ([1], False, ""),
        ([1], False, " "),
        ([], True, "\n\n- "),
    ]
    assert body["answer"] == (
        "Worker bees collect nectar from flowers and store it in their honey stomach.[1] "
        "They fan it with their wings until most of the water evaporates.[1]\n\n"
        "- Bees were first kept on the Moon by Roman astronauts."
    )
    assert body["unsupported"] == 1
    with httpx.stream(
        "POST", f"{url}/api/chat", json={"kb": honey, "question": QUESTION, "stream": True}, timeout=60
    ) as r:
        events = list(iter_sse(r.iter_lines()))
    assert "".join(d["delta"] for e, d in events if e == "token") == CANNED  # tokens stay raw
    assert (events[-1][0], events[-1][1]["answer"]) == ("done", body["answer"])
    assert events[-1][1]["sentences"] == sentences
    oai = openai.OpenAI(base_url=f"{url}/v1", api_key="unused")
    reply = oai.chat.completions.create(model=honey, messages=[{"role": "user", "content": QUESTION}])
    assert reply.choices[0].message.content == body["answer"]
    assert (reply.model_extra or {})["sentences"] == sentences
    done = subprocess.run(
        [sys.executable, "-m", "kb_server", "ask", "--url", url, "--kb", honey, QUESTION],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "- Bees were first kept on the Moon by Roman astronauts. (unsupported)\n" in done.stdout
    assert "evaporates.[1]\n" in done.stdout
