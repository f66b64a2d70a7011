"""A client of kb-server's HTTP API for the operator commands (`ingest`, `kb`, `files`).

    ClientError
     ├── ServerError    the server answered 4xx/5xx with {"code", "detail"}
     └── Unreachable    no answer at all: refused, reset, timed out

429 and 503 are waited out (honouring Retry-After) a bounded number of times before they surface
as a ServerError; connections dropped mid-request are retried too. Retrying an upload is safe: a file's
identity is its sha256, so bytes that did arrive the first time come back `duplicate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import quote

import httpx

BUSY = (429, 503)
BUSY_ATTEMPTS = 8
NETWORK_ATTEMPTS = 3
MAX_WAIT_S = 120.0


class ClientError(Exception):
    pass


class ServerError(ClientError):
    def __init__(self, status: int, code: str, detail: Any, retry_after: float | None = None) -> None:
        self.status, self.code, self.detail, self.retry_after = status, code, detail, retry_after
        super().__init__(f"{code}: {format_detail(detail)}")

    @classmethod
    def of(cls, response: httpx.Response) -> ServerError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "code" in body:
            code, detail = str(body["code"]), body.get("detail", "")
        else:
            code, detail = f"http_{response.status_code}", response.text.strip() or response.reason_phrase
        return cls(response.status_code, code, detail, retry_after(response))


class Unreachable(ClientError):
    pass


def format_detail(detail: Any) -> str:
    """A server `detail` on one line: validation errors (a list of {loc, msg}) become `loc: msg; …`."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


UploadPart = tuple[str, IO[bytes]]
WaitHook = Callable[[str, float], None]


class ApiClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: WaitHook | None = None,
    ) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url, headers=headers, transport=transport, timeout=httpx.Timeout(120, connect=10)
        )
        self.sleep = sleep
        self.on_wait = on_wait

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call; raises ServerError for any 4xx/5xx left after waiting out 429/503.

        Raises:
            ServerError: the server refused the request.
            Unreachable: no answer after a few attempts.
        """
        busy = network = 0
        while True:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                network += 1
                # Refused or unresolvable: nothing is listening there, so waiting is pointless.
                if network >= NETWORK_ATTEMPTS or isinstance(exc, httpx.ConnectError):
                    raise Unreachable(f"cannot reach {self.base_url}: {exc or type(exc).__name__}") from exc
                self._wait(f"{type(exc).__name__}; retrying", float(2**network))
                continue
            if response.status_code < 400:
                return response
            error = ServerError.of(response)
            busy += 1
            if response.status_code not in BUSY or busy >= BUSY_ATTEMPTS:
                raise error
            delay = error.retry_after if error.retry_after is not None else float(min(2**busy, 30))
            self._wait(f"server busy ({error.code})", min(delay, MAX_WAIT_S))

    def _wait(self, why: str, seconds: float) -> None:
        if self.on_wait is not None:
            self.on_wait(why, seconds)
        self.sleep(seconds)

    def list_kbs(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/kbs").json()["kbs"])

    def get_kb(self, name: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/kbs/{quote(name, safe='')}").json())

    def create_kb(self, name: str, description: str = "", preset: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "description": description}
        if preset:
            body["embedding_preset"] = preset
        return dict(self.request("POST", "/api/kbs", json=body).json())

    def delete_kb(self, name: str) -> None:
        self.request("DELETE", f"/api/kbs/{quote(name, safe='')}")

    def start_reembed(self, kb: str, preset: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/api/kbs/{quote(kb, safe='')}/reembed", json={"preset": preset}).json())

    def read_reembed(self, kb: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/kbs/{quote(kb, safe='')}/reembed").json())

    def list_files(self, kb: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/api/kbs/{quote(kb, safe='')}/files").json()["files"])

    def upload(
        self, kb: str, parts: list[UploadPart], on_existing_name: str | None = None, *, keep_path: bool = False
    ) -> list[dict[str, Any]]:
        """Send files in one multipart request; one entry per file, in the order sent. With `keep_path`
        the server keeps each name's relative path (`notes/a.md`)."""
        files = [("files", (name, stream)) for name, stream in parts]
        params: dict[str, str] = {"on_existing_name": on_existing_name} if on_existing_name else {}
        if keep_path:
            params["keep_path"] = "true"
        path = f"/api/kbs/{quote(kb, safe='')}/files"
        return list(self.request("POST", path, files=files, params=params or None).json()["files"])

    def delete_file(self, kb: str, file_id: int) -> None:
        self.request("DELETE", f"/api/kbs/{quote(kb, safe='')}/files/{int(file_id)}")

    def cancel_file(self, kb: str, file_id: int, reason: str | None = None) -> dict[str, Any]:
        path = f"/api/kbs/{quote(kb, safe='')}/files/{int(file_id)}/cancel"
        return dict(self.request("POST", path, json={"reason": reason}).json())

    def cancel_pending(self, kb: str, reason: str | None = None, file_ids: list[int] | None = None) -> list[int]:
        """Cancel these files (or every pending one) of the KB; the ids of those it cancelled."""
        path = f"/api/kbs/{quote(kb, safe='')}/cancel"
        body = {"reason": reason, "file_ids": file_ids}
        return list(self.request("POST", path, json=body).json()["cancelled"])
