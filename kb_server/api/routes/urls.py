"""Web pages into a knowledge base: submit URLs, follow a request's pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from kb_server.api.deps import ServicesDep
from kb_server.schemas import ErrorBody, UrlRefreshChange, UrlRequestPublic, UrlSubmit, UrlSubmitResult
from kb_server.services import urls as url_service

router = APIRouter(prefix="/api/kbs/{kb}/urls", tags=["urls"])
_errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UrlSubmitResult,
    responses={**_errors, 400: {"model": ErrorBody}, 422: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
def submit_urls(kb: str, body: UrlSubmit, services: ServicesDep) -> UrlSubmitResult:
    """Fetch web pages into the knowledge base. Answers at once; the workers fetch and ingest.

    Each URL is `accepted` or `refused` with a reason (`scheme`, `invalid_url`, `credentials`,
    `unresolvable`, `private_address`: loopback, private, link-local and other non-public
    addresses are refused unless `urls.allow_private`). If every URL is refused the answer is 422
    with that reason as `code`. With `depth` > 0 same-host links are followed; `max_pages` bounds
    the whole request; `sitemap` reads each site's sitemap for the pages. With `refresh_s` the
    pages are fetched again on that schedule (conditional GETs with the ETag / Last-Modified they
    were served with): only pages whose content changed are ingested again, as a new version of
    their document, which keeps serving its old version until the new one is done. Follow the
    request with `GET /api/kbs/{kb}/urls/{request_id}`.
    """
    return url_service.submit_urls(services, kb, body)


@router.get("/{request_id}", response_model=UrlRequestPublic, responses=_errors)
def read_url_request(kb: str, request_id: str, services: ServicesDep) -> UrlRequestPublic:
    """A URL request's pages and what came of each: `fetched` (with its file and that file's
    ingestion status), `duplicate` (the same bytes were already in the KB), `failed` with a
    reason (`robots`, `private_address`, `too_large`, `timeout`, `http_status`, ...), or still
    `pending` / `fetching`. `state` is `done` once nothing is left to fetch or ingest (a refresh
    makes it `running` again while it fetches). Each page says when it was last checked and, with
    `refresh_s`, when it is fetched next."""
    return url_service.read_request(services, kb, request_id)


@router.patch("/{request_id}", response_model=UrlRequestPublic, responses={**_errors, 400: {"model": ErrorBody}})
def change_url_refresh(kb: str, request_id: str, body: UrlRefreshChange, services: ServicesDep) -> UrlRequestPublic:
    """Change how often a request's pages are fetched again, counted from now: `{"refresh_s": 0}`
    stops refreshing them (their documents stay). Answers with the request, as GET does."""
    return url_service.change_refresh(services, kb, request_id, body)
