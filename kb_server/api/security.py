"""Who may call the API: a trusted-Host guard, an optional API key, and CORS only when asked.

The Host guard defeats DNS rebinding (a web page on another site resolving its own name to
127.0.0.1 to reach this server through the visitor's browser). The API key, when configured, is
accepted as `X-API-Key` or `Authorization: Bearer` (what OpenAI clients send); the health probes
and the UI's static page stay open so a load balancer can probe and the page can ask for the key.
"""

from __future__ import annotations

import hmac
import json

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from kb_server.settings import Settings

OPEN_PATHS = ("/healthz", "/readyz", "/", "/favicon.ico")
OPEN_PREFIXES = ("/static/",)


class GuardMiddleware:
    def __init__(self, app: ASGIApp, trusted_hosts: list[str], api_key: str | None) -> None:
        self.app = app
        self.any_host = "*" in trusted_hosts
        self.hosts = {h.lower().strip("[]") for h in trusted_hosts}
        self.api_key = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = _host_name(headers.get("host", ""))
        if not self.any_host and host not in self.hosts:
            detail = f"Host {host!r} is not trusted; add it to trusted_hosts (KB_TRUSTED_HOSTS) to serve it"
            await _json(send, 400, "untrusted_host", detail)
            return
        path: str = scope["path"]
        if self.api_key and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES):
            offered = headers.get("x-api-key", "")
            bearer = headers.get("authorization", "")
            if bearer.lower().startswith("bearer "):
                offered = offered or bearer[7:].strip()
            if not hmac.compare_digest(offered.encode(), self.api_key):
                await _json(
                    send,
                    401,
                    "unauthorized",
                    "a valid API key is required (X-API-Key header)",
                    [(b"www-authenticate", b"Bearer")],
                )
                return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _json(
    send: Send, status: int, code: str, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"code": code, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


def install_security(app: FastAPI, settings: Settings) -> None:
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["content-type", "x-api-key", "authorization"],
        )
    key = settings.api_key.get_secret_value() if settings.api_key else None
    hosts = (
        [*settings.trusted_hosts, settings.host] if settings.host not in ("0.0.0.0", "::") else settings.trusted_hosts
    )
    app.add_middleware(GuardMiddleware, trusted_hosts=hosts, api_key=key)
