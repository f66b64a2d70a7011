"""The operator commands without a server: file selection, batching, retries, refusals (httpx.MockTransport)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from kb_server.cli.api_client import BUSY_ATTEMPTS, ApiClient, ServerError, Unreachable
from kb_server.cli.ingest import IngestOptions, run_ingest
from kb_server.cli.ingest_plan import PlanError, batches, collect, selected

pytestmark = pytest.mark.unit


def _tree(root: Path, files: list[str]) -> None:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {rel}\n\ntext of {rel}\n")


def test_globs_match_the_relative_path_at_any_depth() -> None:
    assert selected("a/b/c.pdf", [], ["*.pdf"]) is False
    assert selected("a/b/c.md", ["*.md"], ["a/b/*"]) is False
    assert selected("a/c.md", ["*.md"], ["a/b/*"]) is True
    assert selected("c.txt", ["*.md"], []) is False


def test_collect_walks_directories_skips_hidden_and_lists_each_file_once(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.md", "b.txt", "sub/c.md", "sub/deep/d.md", ".hidden.md", ".git/x.md"])
    flat = collect([tmp_path], recursive=False)
    assert [f.rel for f in flat] == ["a.md", "b.txt"]
    deep = collect([tmp_path, tmp_path / "a.md"], recursive=True, include=["*.md"], exclude=["sub/deep/*"])
    assert [f.rel for f in deep] == ["a.md", "sub/c.md"]
    assert deep[0].path == tmp_path / "a.md"
    with pytest.raises(PlanError, match="no such file"):
        collect([tmp_path / "missing"], recursive=False)


def test_batches_are_bounded_by_count_and_bytes() -> None:
    sizes = [5, 5, 5, 50, 5, 5]
    assert batches(sizes, lambda n: n, max_files=2, max_bytes=20) == [[5, 5], [5], [50], [5, 5]]


def test_busy_answers_are_waited_out_honouring_retry_after() -> None:
    answers = iter([429, 503, 200])
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status != 200:
            return httpx.Response(status, json={"code": "busy", "detail": "later"}, headers={"Retry-After": "3"})
        return httpx.Response(200, json={"kbs": []})

    client = ApiClient("http://kb", transport=httpx.MockTransport(handler), sleep=waits.append)
    assert client.list_kbs() == []
    assert waits == [3.0, 3.0]


def test_busy_for_too_long_or_unreachable_surfaces_as_an_error() -> None:
    waits: list[float] = []
    busy = httpx.MockTransport(lambda r: httpx.Response(503, json={"code": "service_unavailable", "detail": "x"}))
    with pytest.raises(ServerError, match="service_unavailable: x"):
        ApiClient("http://kb", transport=busy, sleep=waits.append).list_kbs()
    assert len(waits) == BUSY_ATTEMPTS - 1

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(Unreachable, match="cannot reach"):
        ApiClient("http://kb", transport=httpx.MockTransport(refuse), sleep=waits.append).list_kbs()


class FakeServer:
    """Enough of the API for the ingest command: a 413 for any request carrying `big` files."""

    def __init__(self) -> None:
        self.files: list[dict[str, Any]] = []
        self.uploads: list[list[str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/api/kbs/k":
            return httpx.Response(200, json={"name": "k"})
        if request.method == "GET" and path == "/api/kbs/k/files":
            return httpx.Response(200, json={"files": self.files})
        assert request.method == "POST"
        assert path == "/api/kbs/k/files"
        names = re.findall(rb'filename="([^"]+)"', request.content)
        self.uploads.append([n.decode() for n in names])
        if any(n.startswith(b"big") for n in names):
            detail = "'big.txt' is larger than the per-file limit" if len(names) == 1 else "too large"
            return httpx.Response(413, json={"code": "file_too_large", "detail": detail})
        entries = []
        for n in names:
            file_id = len(self.files) + 1
            self.files.append(
                {"file_id": file_id, "name": n.decode(), "sha256": f"s{file_id}", "status": "done", "chunks": 1}
            )
            entries.append({"file_id": file_id, "name": n.decode(), "sha256": None, "status": "queued"})
        return httpx.Response(202, json={"files": entries})


def test_a_413_is_narrowed_down_to_the_file_too_large_which_fails_alone(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.md", "b.md", "big.txt", "c.md"])
    server = FakeServer()
    client = ApiClient("http://kb", transport=httpx.MockTransport(server), sleep=lambda s: None)
    out, err = io.StringIO(), io.StringIO()
    options = IngestOptions(kb="k", paths=[tmp_path], batch=10, as_json=True)
    assert run_ingest(client, options, out=out, err=err) == 1
    report = json.loads(out.getvalue())
    assert report["counts"] == {
        **{"done": 3, "duplicate": 0, "already": 0, "rejected": 0},
        **{"failed": 1, "cancelled": 0, "skipped": 0},
    }
    big = next(f for f in report["files"] if f["path"].endswith("big.txt"))
    assert big["outcome"] == "failed"
    assert big["code"] == "file_too_large"
    assert "per-file limit" in big["reason"]
    assert server.uploads[0] == ["a.md", "b.md", "big.txt", "c.md"]
    assert ["big.txt"] in server.uploads
    assert sum(u.count("a.md") for u in server.uploads) <= 2
