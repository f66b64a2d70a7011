"""Who may call the API: a trusted-Host guard, an optional API key, and CORS only when asked.

The Host guard defeats DNS rebinding (a web page on another site resolving its own name to
127.0.0.1 to reach this server through the visitor's browser). The API key, when configured, is
accepted as `X-API-Key` or `Authorization: Bearer` (what OpenAI clients send); the health probes
and the UI's static page stay open so a load balancer can probe and the page can ask for the key.

Order, outermost first: Host guard → CORS → key guard. A browser's preflight carries no key (it
cannot), so CORS must answer it before the key is asked for; and the key guard's 401 passes back
through CORS, so a page on an allowed origin can read why it was refused.
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


class HostGuardMiddleware:
    def __init__(self, app: ASGIApp, trusted_hosts: list[str]) -> None:
        self.app = app
        self.any_host = "*" in trusted_hosts
        self.hosts = {h.lower().strip("[]") for h in trusted_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.any_host:
            host = _host_name(_header(scope, b"host"))
            if host not in self.hosts:
                detail = f"Host {host!r} is not trusted; add it to trusted_hosts (KB_TRUSTED_HOSTS) to serve it"
                await _json(send, 400, "untrusted_host", detail)
                return
        await self.app(scope, receive, send)


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.api_key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES):
            offered = _header(scope, b"x-api-key")
            bearer = _header(scope, b"authorization")
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


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


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
    # Starlette runs the middleware added last first.
    if settings.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key.get_secret_value())
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["content-type", "x-api-key", "authorization", "x-client-id"],
        )
    hosts = (
        [*settings.trusted_hosts, settings.host] if settings.host not in ("0.0.0.0", "::") else settings.trusted_hosts
    )
    app.add_middleware(HostGuardMiddleware, trusted_hosts=hosts)
