"""`kb-server ingest --page URL`: have the server fetch web pages, then follow them until ingested.

The server's workers fetch (and crawl, with `--depth`); this command sends the request, then polls
`GET /api/kbs/{kb}/urls/{request_id}` and prints a line whenever the counts change, and a table of
every page at the end. Exit codes: 0 when every page was fetched (or was a duplicate) and its file
ingested; 1 when any URL was refused, any page failed or any file failed; 2 on a usage or
connection error; 130 when interrupted (the server goes on with the request).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import quote

from kb_server.cli.api_client import BUSY, ApiClient, ServerError, Unreachable
from kb_server.cli.terminal import Display, display_for

POLL_S = 1.0


@dataclass
class PageOptions:
    kb: str
    urls: list[str]
    depth: int = 0
    max_pages: int = 50
    sitemap: bool = False
    create: bool = False
    as_json: bool = False
    refresh_s: int | None = None


def run_ingest_pages(
    client: ApiClient, options: PageOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    display = display_for(err if options.as_json else out)
    request_id: str | None = None
    try:
        _ensure_kb(client, options, display)
        path = f"/api/kbs/{quote(options.kb, safe='')}/urls"
        body: dict[str, Any] = {"urls": options.urls, "depth": options.depth, "max_pages": options.max_pages}
        if options.refresh_s is not None:
            body["refresh_s"] = options.refresh_s
        submitted = client.request("POST", path, json={**body, "sitemap": options.sitemap}).json()
        request_id = str(submitted["request_id"])
        refused = [u for u in submitted["urls"] if u["status"] == "refused"]
        for u in refused:
            display.note(f"refused {u['url']}: {u['error']['code']}: {u['error']['detail']}")
        display.note(f"fetching into {options.kb} (request {request_id})")
        state = _follow(client, f"{path}/{request_id}", display)
        if submitted.get("refresh_s"):
            display.note(f"the server fetches these pages again every {submitted['refresh_s']} s")
    except Unreachable as exc:
        print(f"kb-server: {exc}", file=err)
        return 2
    except ServerError as exc:
        print(f"kb-server: {exc}", file=err)
        return 2 if exc.status in BUSY else 1
    except KeyboardInterrupt:
        where = f": follow it with GET /api/kbs/{options.kb}/urls/{request_id}" if request_id else ""
        print(f"kb-server: interrupted; the server goes on with the request{where}", file=err)
        return 130
    if options.as_json:
        out.write(json.dumps({**state, "refused": refused}, indent=2) + "\n")
    else:
        rows = [
            [p["url"], p["status"], p["title"] or "", p["file_status"] or "", p["chunks"], p["error_code"] or ""]
            for p in state["pages"]
        ]
        display.table("", ["url", "page", "title", "file", "chunks", "reason"], rows)
    failed = [p for p in state["pages"] if p["status"] == "failed" or p["file_status"] == "failed"]
    return 1 if refused or failed else 0


def _ensure_kb(client: ApiClient, options: PageOptions, display: Display) -> None:
    try:
        client.get_kb(options.kb)
    except ServerError as exc:
        if exc.status != 404 or not options.create:
            raise
        client.create_kb(options.kb)
        display.note(f"created knowledge base {options.kb}")


def _follow(client: ApiClient, path: str, display: Display) -> dict[str, Any]:
    shown = ""
    while True:
        state: dict[str, Any] = client.request("GET", path).json()
        pages = Counter(p["status"] for p in state["pages"])
        files = Counter(p["file_status"] for p in state["pages"] if p["file_status"])
        line = "pages: " + " · ".join(f"{n} {s}" for s, n in sorted(pages.items()))
        if files:
            line += " | files: " + " · ".join(f"{n} {s}" for s, n in sorted(files.items()))
        if line != shown:
            display.note(line)
            shown = line
        if state["state"] == "done":
            return state
        time.sleep(POLL_S)
