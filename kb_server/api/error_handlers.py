"""Every error becomes a JSON body `{"code", "detail"}` with a 4xx/5xx status — never a 200."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.errors import CatalogError, Conflict, NotFound
from ingestion.errors import DocumentError, IngestionError, TransientError, UnsupportedFile
from ingestion.web.errors import UrlRefused
from kb_server.errors import ApiError
from llm.errors import LLMBusy, LLMError, LLMGenerationError, LLMNotInstalled, LLMUnavailable
from vectorstore.errors import EmbedderUnavailable, VectorStoreError

log = logging.getLogger(__name__)

# Another process holds the SQLite write lock past the busy timeout: the request may simply be
# sent again, so it is a 503, not a 500.
DATABASE_BUSY_RETRY_AFTER_S = 2
_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")

_DOMAIN_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (UnsupportedFile, 415),
    (UrlRefused, 422),
    (DocumentError, 422),
    (TransientError, 503),
]


def error_body(code: str, detail: object) -> dict[str, object]:
    return {"code": code, "detail": detail}


def is_database_busy(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return any(word in message for word in _BUSY_WORDS)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return JSONResponse(error_body(exc.code, exc.detail), status_code=exc.status_code, headers=headers)

    async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CatalogError | IngestionError)
        status = next((s for cls, s in _DOMAIN_STATUS if isinstance(exc, cls)), 500)
        return JSONResponse(error_body(exc.code, exc.detail), status_code=status)

    app.add_exception_handler(CatalogError, _domain_error)
    app.add_exception_handler(IngestionError, _domain_error)

    @app.exception_handler(LLMError)
    async def _llm_error(_: Request, exc: LLMError) -> JSONResponse:
        if isinstance(exc, LLMBusy):
            return JSONResponse(error_body("llm_busy", str(exc)), status_code=503, headers={"Retry-After": "5"})
        if isinstance(exc, LLMNotInstalled):
            return JSONResponse(error_body("llm_not_installed", str(exc)), status_code=503)
        if isinstance(exc, LLMUnavailable):
            return JSONResponse(error_body("llm_unavailable", str(exc)), status_code=503)
        if isinstance(exc, LLMGenerationError):
            return JSONResponse(error_body("llm_error", str(exc)), status_code=502)
        return JSONResponse(error_body("llm_unavailable", str(exc)), status_code=503)

    @app.exception_handler(VectorStoreError)
    async def _store_error(_: Request, exc: VectorStoreError) -> JSONResponse:
        if isinstance(exc, EmbedderUnavailable):
            return JSONResponse(error_body("embedder_unavailable", str(exc)), status_code=503)
        return JSONResponse(error_body("vector_store_error", str(exc)), status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return JSONResponse(error_body("invalid_request", errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return JSONResponse(error_body(code, exc.detail), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "an unexpected error occurred"), status_code=500)

    @app.exception_handler(OperationalError)
    async def _database_error(request: Request, exc: OperationalError) -> JSONResponse:
        if not is_database_busy(exc):
            return await _unexpected(request, exc)
        log.warning("the catalog is busy: %s", exc.orig)
        return JSONResponse(
            error_body("database_busy", "the catalog is busy with another process's write; try again shortly"),
            status_code=503,
            headers={"Retry-After": str(DATABASE_BUSY_RETRY_AFTER_S)},
        )
