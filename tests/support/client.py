"""A small HTTP client for kb-server's API, used by the end-to-end tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx


class KBClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def close(self) -> None:
        self.http.close()

    def create_kb(self, name: str) -> dict[str, Any]:
        r = self.http.post("/api/kbs", json={"name": name})
        assert r.status_code == 201, r.text
        return r.json()

    def upload(self, kb: str, files: list[tuple[str, bytes]]) -> httpx.Response:
        return self.http.post(f"/api/kbs/{kb}/files", files=[("files", (n, b)) for n, b in files])

    def upload_paths(self, kb: str, paths: list[Path]) -> list[dict[str, Any]]:
        r = self.upload(kb, [(p.name, p.read_bytes()) for p in paths])
        assert r.status_code == 202, r.text
        return list(r.json()["files"])

    def files(self, kb: str) -> list[dict[str, Any]]:
        r = self.http.get(f"/api/kbs/{kb}/files")
        assert r.status_code == 200, r.text
        return list(r.json()["files"])

    def search(self, kb: str, query: str, top_k: int = 5, **extra: Any) -> list[dict[str, Any]]:
        r = self.http.post(f"/api/kbs/{kb}/search", json={"query": query, "top_k": top_k, **extra})
        assert r.status_code == 200, r.text
        return list(r.json()["results"])

    def wait_settled(self, kb: str, expected: int | None = None, timeout_s: float = 300) -> list[dict[str, Any]]:
        """Poll until every file is done or failed (and, if given, there are `expected` files)."""
        deadline = time.monotonic() + timeout_s
        files: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                files = self.files(kb)
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            settled = all(f["status"] in ("done", "failed") for f in files)
            if settled and (expected is None or len(files) == expected):
                return files
            time.sleep(0.5)
        raise TimeoutError(
            f"files of {kb} not settled after {timeout_s} s: " + ", ".join(f"{f['name']}={f['status']}" for f in files)
        )
