"""`kb-server search`: the best passages of one knowledge base or several, from a running server."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from kb_server.cli.api_client import ApiClient
from kb_server.services.citations import location


def kb_names(values: list[str]) -> list[str]:
    """`--kb` values, each a name or a comma list, as the names in order, each once."""
    return list(dict.fromkeys(n.strip() for v in values for n in v.split(",") if n.strip()))


def kb_selector(names: list[str]) -> dict[str, Any]:
    """The request fields that ask these knowledge bases."""
    return {"kb": names[0]} if len(names) == 1 else {"kbs": names}


def hit_source(hit: dict[str, Any], several: bool) -> str:
    """Where a hit or citation comes from: "[kb] file, p. 3" (the KB when several were asked)."""
    spot = location(hit.get("metadata", {}))
    where = f"{hit['file_name']}, {spot}" if spot else str(hit["file_name"])
    return f"{hit.get('kb')}: {where}" if several and hit.get("kb") else where


def run_search(
    client: ApiClient,
    kbs: list[str],
    query: str,
    top_k: int,
    mode: str | None,
    as_json: bool,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout  # read at the call: a test's capture replaces it
    body: dict[str, Any] = {"query": query, "top_k": top_k, **kb_selector(kbs)}
    if mode:
        body["mode"] = mode
    results = client.request("POST", "/api/search", json=body).json()["results"]
    if as_json:
        out.write(json.dumps({"results": results}, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not results:
        out.write("no results\n")
        return 0
    for i, hit in enumerate(results, start=1):
        snippet = " ".join(hit["text"].split())[:160]
        out.write(f"{i:2d}. {hit['score']:.3f}  {hit_source(hit, len(kbs) > 1)}\n    {snippet}\n")
    return 0
