"""Re-embedding a knowledge base with another embedding preset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from kb_server.api.deps import ServicesDep
from kb_server.schemas import ErrorBody, ReembedCreate, ReembedPublic
from kb_server.services import reembed as reembed_service

router = APIRouter(prefix="/api/kbs/{kb}/reembed", tags=["knowledge bases"])
_errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 409: {"model": ErrorBody}}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReembedPublic,
    responses={**_errors, 400: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
def start_reembed(kb: str, body: ReembedCreate, services: ServicesDep) -> ReembedPublic:
    """Re-embed the knowledge base with `preset`'s embedder, in the background: the workers embed
    every file's stored chunks again (nothing is re-parsed) beside the live vectors, which keep
    serving search until the last file is done; then the KB switches to the new embedder at once.
    Files uploaded meanwhile get the new vectors too. One re-embed per KB at a time: another while
    one runs is a 409 `reembed_running`; the preset it already has is a 400 `reembed_same_embedder`."""
    return ReembedPublic.of(reembed_service.start_reembed(services, kb, body.preset), kb)


@router.get("", response_model=ReembedPublic, responses=_errors)
def read_reembed(kb: str, services: ServicesDep) -> ReembedPublic:
    """The KB's latest re-embed: its status, files done of total, and why it failed if it did."""
    return ReembedPublic.of(reembed_service.read_reembed(services, kb), kb)


@router.delete("", response_model=ReembedPublic, responses=_errors)
def cancel_reembed(kb: str, services: ServicesDep) -> ReembedPublic:
    """Cancel the running re-embed: the vectors staged so far are dropped, the old embedder stays."""
    return ReembedPublic.of(reembed_service.cancel_reembed(services, kb), kb)
