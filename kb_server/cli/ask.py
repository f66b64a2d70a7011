"""`kb-server ask`: a question to a running server, the answer streamed to the terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import httpx

from kb_server.services.chat import location


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


def ask(base_url: str, kb: str, question: str, top_k: int | None, out: TextIO = sys.stdout) -> int:
    """Stream the answer, then list the sources; returns the exit code."""
    body: dict[str, Any] = {"kb": kb, "question": question, "stream": True}
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
            for event, data in iter_sse(response.iter_lines()):
                if event == "token":
                    out.write(data["delta"])
                    out.flush()
                elif event == "done":
                    done, citations = data, data["citations"]
                elif event == "error":
                    print(f"\nkb-server: {data['code']}: {data['detail']}", file=sys.stderr)
                    return 1
    except httpx.HTTPError as exc:
        print(f"kb-server: cannot reach {base_url}: {exc}", file=sys.stderr)
        return 1
    out.write("\n")
    if done.get("refused_by") == "model":
        out.write(f"(the model found no answer in the passages) {done['answer']}\n")
    if done.get("fallback") == "no_llm":
        out.write("(no LLM is installed: quoted from the passages)\n")
    if citations:
        out.write("\nSources:\n")
        for c in citations:
            spot = location(c.get("metadata", {}))
            where = f"{c['file_name']}, {spot}" if spot else c["file_name"]
            snippet = " ".join(c["text"].split())[:100]
            out.write(f"  [{c['n']}] {where} (score {c['score']:.2f}, chunk {c['chunk_id']}): {snippet}\n")
    return 0
