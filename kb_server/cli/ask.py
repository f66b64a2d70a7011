"""`kb-server ask`: a question to a running server, the answer streamed to the terminal.

On a terminal the model's raw text streams in dimmed as a draft, then gives way to the cited
answer (each sentence with its [n], unsupported ones marked); a pipe gets only the cited answer.
"""

from __future__ import annotations

import json
import shutil
import sys
import unicodedata
from collections.abc import Iterator
from typing import Any, TextIO

import httpx

from kb_server.cli.search import hit_source, kb_selector
from kb_server.cli.terminal import is_tty

DIM, RESET = "\x1b[2m", "\x1b[0m"
UNSUPPORTED = "(unsupported)"


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event, decoded data) pairs of a Server-Sent Events stream."""
    event, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def cited_answer(done: dict[str, Any], color: bool) -> str:
    """The `done` event's answer, sentence by sentence, unsupported sentences marked."""
    sentences = done.get("sentences") or []
    if not sentences:
        return str(done.get("answer", ""))
    parts: list[str] = []
    for s in sentences:
        markers = "".join(f"[{n}]" for n in s["citations"])
        text = s["text"]
        if s.get("unsupported"):
            text = f"{DIM}{text}{RESET} {UNSUPPORTED}" if color else f"{text} {UNSUPPORTED}"
        parts.append(f"{s['before']}{text}{markers}")
    return "".join(parts).strip()


def _rows(text: str, width: int) -> int:
    """Terminal rows `text` takes (CJK characters are two columns wide)."""
    rows = 0
    for line in text.split("\n"):
        columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
        rows += max(1, -(-columns // width))
    return rows


def _erase_draft(draft: str, out: TextIO) -> None:
    size = shutil.get_terminal_size()
    rows = _rows(draft, size.columns)
    if rows >= size.lines:  # scrolled past the top: the draft stays, the answer follows it
        out.write("\n\n")
        return
    out.write(f"\r\x1b[{rows - 1}A\x1b[J" if rows > 1 else "\r\x1b[J")


def ask(
    base_url: str,
    kbs: list[str],
    question: str,
    top_k: int | None,
    out: TextIO | None = None,
    conversation_id: int | None = None,
    rewrite: bool = True,
) -> int:
    """Stream the answer from one knowledge base or several, then list the sources; returns the exit code.

    In a conversation (`conversation_id`) the question follows its earlier turns and is stored in it;
    `kbs` may then be empty (the conversation's).
    """
    out = out or sys.stdout  # read at the call: a test's capture replaces it
    tty = is_tty(out)
    selector = kb_selector(kbs) if kbs else {}
    body: dict[str, Any] = {**selector, "question": question, "stream": True, "rewrite": rewrite}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    if top_k:
        body["top_k"] = top_k
    try:
        with httpx.stream("POST", f"{base_url.rstrip('/')}/api/chat", json=body, timeout=300) as response:
            if response.status_code != 200:
                response.read()
                error = (
                    response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
                )
                print(
                    f"kb-server: {error.get('code', response.status_code)}: {error.get('detail', response.text)}",
                    file=sys.stderr,
                )
                return 1
            citations: list[dict[str, Any]] = []
            done: dict[str, Any] = {}
            draft = ""
            for event, data in iter_sse(response.iter_lines()):
                if event == "token" and tty:
                    out.write(f"{DIM}{data['delta']}{RESET}")
                    out.flush()
                    draft += data["delta"]
                elif event == "done":
                    done, citations = data, data["citations"]
                elif event == "error":
                    print(f"\nkb-server: {data['code']}: {data['detail']}", file=sys.stderr)
                    return 1
    except httpx.HTTPError as exc:
        print(f"kb-server: cannot reach {base_url}: {exc}", file=sys.stderr)
        return 1
    if draft:
        _erase_draft(draft, out)
    out.write(cited_answer(done, color=tty) + "\n")
    if done.get("refused_by") == "model":
        out.write("(the model found no answer in the passages)\n")
    elif done.get("refused_by") == "unsupported":
        out.write("(the model's answer was not found in the passages, so it is not shown)\n")
    if done.get("fallback") == "no_llm":
        out.write("(no LLM is installed: quoted from the passages)\n")
    if done.get("searched_for"):
        out.write(f"(searched for: {done['searched_for']})\n")
    if citations:
        out.write("\nSources:\n")
        several = len(kbs) > 1 or len({c.get("kb") for c in citations}) > 1  # a conversation's KBs too
        for c in citations:
            where = hit_source(c, several)
            snippet = " ".join(c["text"].split())[:100]
            out.write(f"  [{c['n']}] {where} (score {c['score']:.2f}, chunk {c['chunk_id']}): {snippet}\n")
    return 0
