"""Knowledge bases."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from kb_server.api.deps import ServicesDep
from kb_server.schemas import ErrorBody, KBCreate, KBList, KBPublic
from kb_server.services import kbs as kb_service
from kb_server.services.kb_embedders import kb_preset

router = APIRouter(prefix="/api/kbs", tags=["knowledge bases"])
_errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 409: {"model": ErrorBody}}
_create_errors: dict[int | str, dict[str, Any]] = {**_errors, 400: {"model": ErrorBody}, 503: {"model": ErrorBody}}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KBPublic, responses=_create_errors)
def create_kb(body: KBCreate, services: ServicesDep) -> KBPublic:
    """Create a knowledge base. Names are unique: letters, digits, `_`, `.`, `-`. It is built, and
    searched, with the embedder of `embedding_preset` (default `embedding.preset`) for good; a
    preset this server cannot serve is a 400 `embedding_preset_unavailable`, one whose model
    cannot be loaded a 503 `embedder_unavailable`."""
    row = kb_service.create_kb(services, body.name, body.description, body.embedding_preset)
    return KBPublic.of(row, preset=kb_preset(services, row))


@router.get("", response_model=KBList)
def list_kbs(services: ServicesDep) -> KBList:
    """Every knowledge base, with its file and chunk counts and its embedder's preset."""
    return KBList(kbs=[KBPublic.of(kb, n, c, kb_preset(services, kb)) for kb, n, c in kb_service.list_kbs(services)])


@router.get("/{kb}", response_model=KBPublic, responses=_errors)
def read_kb(kb: str, services: ServicesDep) -> KBPublic:
    """One knowledge base."""
    row, files, chunks = kb_service.get_kb(services, kb)
    return KBPublic.of(row, files, chunks, kb_preset(services, row))


@router.delete("/{kb}", status_code=status.HTTP_204_NO_CONTENT, responses=_errors)
def delete_kb(kb: str, services: ServicesDep) -> Response:
    """Delete a knowledge base with all its files, chunks and vectors."""
    kb_service.delete_kb(services, kb)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
