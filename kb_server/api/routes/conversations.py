"""Conversations kept on the server, with their messages and citations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from kb_server.api.deps import OwnerDep, ServicesDep
from kb_server.schemas import (
    MAX_ID,
    ConversationCreate,
    ConversationDetail,
    ConversationList,
    ConversationPublic,
    ConversationRename,
    ErrorBody,
)
from kb_server.services import conversations as conversation_service

router = APIRouter(prefix="/api/conversations", tags=["conversations"])
_errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}
ConversationId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationPublic, responses=_errors)
def create_conversation(body: ConversationCreate, services: ServicesDep, owner: OwnerDep) -> ConversationPublic:
    """Start a conversation over the knowledge base `kb` (or several: `kbs`). Without a `title`, the
    first question (shortened to about 60 characters) becomes it. Ask in it with `POST /api/chat` and
    its `conversation_id`."""
    return ConversationPublic.of(conversation_service.create(services, owner, body.kb_names, body.title))


@router.get("", response_model=ConversationList)
def list_conversations(
    services: ServicesDep,
    owner: OwnerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ConversationList:
    """The caller's conversations (`X-Client-Id`), the most recently active first, `limit` at a time."""
    rows = conversation_service.list_conversations(services, owner, limit, offset)
    return ConversationList(conversations=[ConversationPublic.of(c) for c in rows])


@router.get("/{conversation_id}", response_model=ConversationDetail, responses=_errors)
def read_conversation(conversation_id: ConversationId, services: ServicesDep, owner: OwnerDep) -> ConversationDetail:
    """One conversation with every message in order; answers carry their `citations` and cited
    `sentences`, as `POST /api/chat` returned them."""
    return ConversationDetail.with_messages(*conversation_service.get(services, owner, conversation_id))


@router.patch("/{conversation_id}", response_model=ConversationPublic, responses=_errors)
def rename_conversation(
    conversation_id: ConversationId, body: ConversationRename, services: ServicesDep, owner: OwnerDep
) -> ConversationPublic:
    """Rename a conversation."""
    return ConversationPublic.of(conversation_service.rename(services, owner, conversation_id, body.title))


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_errors)
def delete_conversation(conversation_id: ConversationId, services: ServicesDep, owner: OwnerDep) -> Response:
    """Delete a conversation and all its messages."""
    conversation_service.delete(services, owner, conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
