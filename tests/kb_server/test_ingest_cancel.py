"""Ctrl-C in `kb-server ingest` with files still queued: asked on a terminal, told otherwise (no server)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest

from kb_server.cli.api_client import ApiClient
from kb_server.cli.ingest import IngestOptions, run_ingest
from kb_server.cli.ingest_plan import sha256_of

pytestmark = pytest.mark.unit


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def interrupted_server(cancels: list[dict[str, object]]) -> httpx.MockTransport:
    """Takes two files, then the user presses Ctrl-C while the client follows them."""
    listed = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal listed
        path = request.url.path
        if path == "/api/kbs/notes":
            return httpx.Response(200, json={"name": "notes"})
        if path == "/api/kbs/notes/files" and request.method == "GET":
            listed += 1
            if listed > 1:
                raise KeyboardInterrupt
            return httpx.Response(200, json={"files": []})
        if path == "/api/kbs/notes/files":
            files = [{"file_id": n, "sha256": None, "status": "queued", "task_id": f"t{n}"} for n in (7, 8)]
            return httpx.Response(202, json={"files": files})
        if path == "/api/kbs/notes/cancel":
            cancels.append(json.loads(request.content))
            return httpx.Response(200, json={"cancelled": [7]})
        return httpx.Response(404, json={"code": "not_found", "detail": path})

    return httpx.MockTransport(handler)


def run(tmp_path: Path, stdin: io.StringIO, err: io.StringIO, cancels: list[dict[str, object]]) -> int:
    for name in ("a.md", "b.md"):
        (tmp_path / name).write_text(f"# {name}\n\nsome text\n")
    client = ApiClient("http://kb:8077", transport=interrupted_server(cancels))
    return run_ingest(client, IngestOptions(kb="notes", paths=[tmp_path]), out=io.StringIO(), err=err, stdin=stdin)


def test_without_a_terminal_nothing_is_cancelled_and_the_command_to_do_it_is_printed(tmp_path: Path) -> None:
    cancels: list[dict[str, object]] = []
    err = io.StringIO()

    assert run(tmp_path, io.StringIO(), err, cancels) == 130

    assert cancels == []
    assert "2 files queued by this run are still being ingested; to cancel them:" in err.getvalue()
    assert "  kb-server files cancel --kb notes --url http://kb:8077 7 8\n" in err.getvalue()


def test_on_a_terminal_yes_cancels_the_files_this_run_queued(tmp_path: Path) -> None:
    cancels: list[dict[str, object]] = []
    err = Terminal()

    assert run(tmp_path, Terminal("y\n"), err, cancels) == 130

    assert cancels == [{"reason": "cancelled from kb-server ingest (interrupted)", "file_ids": [7, 8]}]
    assert "Cancel the 2 files this run queued that are not ingested yet? [y/N]" in err.getvalue()
    assert "cancelled 1 of 2 files" in err.getvalue()


def test_on_a_terminal_anything_but_yes_keeps_them(tmp_path: Path) -> None:
    cancels: list[dict[str, object]] = []
    err = Terminal()

    assert run(tmp_path, Terminal("\n"), err, cancels) == 130

    assert cancels == []
    assert "not cancelled; the server goes on ingesting them" in err.getvalue()


def test_a_file_cancelled_in_the_kb_is_sent_again_and_one_done_is_not(tmp_path: Path) -> None:
    (tmp_path / "cancelled.md").write_text("# Cancelled\n\nsent again\n")
    (tmp_path / "done.md").write_text("# Done\n\nleft alone\n")
    remote = [
        {"file_id": 1, "name": "cancelled.md", "sha256": sha256_of(tmp_path / "cancelled.md"), "status": "cancelled"},
        {"file_id": 2, "name": "done.md", "sha256": sha256_of(tmp_path / "done.md"), "status": "done"},
    ]
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/kbs/notes":
            return httpx.Response(200, json={"name": "notes"})
        if request.method == "POST":
            sent.append(request.content)
            remote[0]["status"] = "done"  # queued again, and ingested by the time it is polled
            return httpx.Response(202, json={"files": [{"file_id": 1, "status": "queued", "sha256": None}]})
        files = [{"chunks": 1, "error": None, "error_code": None, "stage": None, "progress": 1.0, **f} for f in remote]
        return httpx.Response(200, json={"files": files})

    client = ApiClient("http://kb", transport=httpx.MockTransport(handler))
    out = io.StringIO()
    options = IngestOptions(kb="notes", paths=[tmp_path], as_json=True)

    assert run_ingest(client, options, out=out, err=io.StringIO()) == 0

    assert len(sent) == 1
    assert b'filename="cancelled.md"' in sent[0]
    assert b"done.md" not in sent[0]
    outcomes = {Path(f["path"]).name: f["outcome"] for f in json.loads(out.getvalue())["files"]}
    assert outcomes == {"cancelled.md": "done", "done.md": "already"}
