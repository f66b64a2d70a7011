"""Server-side conversations and their messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_serializer, field_validator

from catalog.models import Conversation, Message
from kb_server.schemas.chat import AnswerSentence, Citation
from kb_server.schemas.common import as_utc
from kb_server.schemas.kbs import KBChoice


class ConversationCreate(KBChoice):
    title: str = Field(default="", max_length=200, description="empty: the first question, shortened")


class ConversationRename(BaseModel):
    title: str = Field(min_length=1, max_length=200)

    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a title needs more than white space")
        return value


class ConversationPublic(BaseModel):
    id: int
    title: str = Field(description="empty until the first question when none was given")
    kb: str
    kbs: list[str]
    turns: int = Field(description="questions answered so far")
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _ser_time(self, value: datetime) -> str:
        return as_utc(value).isoformat()

    @classmethod
    def of(cls, c: Conversation) -> ConversationPublic:
        kbs = list(c.kbs or [])
        return cls(
            id=c.id,
            title=c.title,
            kb=kbs[0] if kbs else "",
            kbs=kbs,
            turns=c.turns,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class MessagePublic(BaseModel):
    position: int
    role: Literal["user", "assistant"]
    content: str = Field(description="the question, or the answer as `ChatResponse.answer` gave it")
    citations: list[Citation] = Field(default_factory=list)
    sentences: list[AnswerSentence] = Field(default_factory=list)
    refused: bool = False
    refused_by: Literal["threshold", "model", "unsupported"] | None = None
    mode: Literal["generate", "quote"] | None = Field(default=None, description="of an answer: what produced it")
    fallback: str | None = None
    searched_for: str | None = Field(default=None, description="of an answer: what was searched, when rewritten")
    created_at: datetime

    @field_serializer("created_at")
    def _ser_time(self, value: datetime) -> str:
        return as_utc(value).isoformat()

    @classmethod
    def of(cls, m: Message) -> MessagePublic:
        return cls.model_validate(
            {
                "position": m.position,
                "role": m.role,
                "content": m.content,
                "citations": m.citations or [],
                "sentences": m.sentences or [],
                "refused": m.refused,
                "refused_by": m.refused_by,
                "mode": m.mode,
                "fallback": m.fallback,
                "searched_for": m.searched_for,
                "created_at": m.created_at,
            }
        )


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]

    @classmethod
    def with_messages(cls, c: Conversation, messages: Sequence[Message]) -> ConversationDetail:
        public = ConversationPublic.of(c)
        return cls(**dict(public), messages=[MessagePublic.of(m) for m in messages])


class ConversationList(BaseModel):
    conversations: list[ConversationPublic]
