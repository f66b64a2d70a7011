"""Knowledge bases: creating and listing them, and choosing which ones a request goes to."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_serializer, field_validator, model_validator

from catalog.models import KnowledgeBase
from kb_server.schemas.common import as_utc
from vectorstore.settings import Preset

# Names are labels in the catalog and never become paths; still, keep them plain.
KB_NAME_PATTERN = r"^[\w][\w.\-]{0,63}$"
# Knowledge bases one search or question may go to: each is searched with its own embedder.
MAX_KBS = 8


class KBCreate(BaseModel):
    name: str = Field(pattern=KB_NAME_PATTERN, description="letters, digits, _ . - ; at most 64; no '..'")
    description: str = Field(default="", max_length=2000)
    embedding_preset: Preset | None = Field(
        default=None,
        description="the embedder this KB is built and searched with, for good: a bundled preset (minilm: English, "
        "fast; multilingual: Chinese and ~100 languages) or the configured one; null: `embedding.preset`",
    )

    @field_validator("name")
    @classmethod
    def _no_dot_dot(cls, value: str) -> str:
        if ".." in value:
            raise ValueError("a name cannot contain '..'")
        return value


class KBPublic(BaseModel):
    name: str
    description: str
    embedder: str
    dim: int
    embedding_preset: str | None = Field(
        default=None, description="the embedding preset it was built with; null when no preset of this server's made it"
    )
    files: int = 0
    chunks: int = 0
    created_at: datetime

    @field_serializer("created_at")
    def _ser_time(self, value: datetime) -> str:
        return as_utc(value).isoformat()

    @classmethod
    def of(cls, kb: KnowledgeBase, files: int = 0, chunks: int = 0, preset: str | None = None) -> KBPublic:
        return cls(
            name=kb.name,
            description=kb.description,
            embedder=kb.embedder,
            dim=kb.dim,
            embedding_preset=preset,
            files=files,
            chunks=chunks,
            created_at=kb.created_at,
        )


class KBList(BaseModel):
    kbs: list[KBPublic]


class KBChoice(BaseModel):
    """One knowledge base (`kb`) or several (`kbs`), never both."""

    kb: str | None = Field(default=None, description="the knowledge base")
    kbs: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_KBS,
        description=f"several knowledge bases (at most {MAX_KBS}), each searched with its own embedder; results "
        "fused on their 0..1 scores, best first, each naming its `kb`",
    )

    def _kb_required(self) -> bool:
        return True

    @model_validator(mode="after")
    def _one_way(self) -> KBChoice:
        if self.kb is not None and self.kbs is not None:
            raise ValueError("give either `kb` or `kbs`, not both")
        if self.kb is None and not self.kbs and self._kb_required():
            raise ValueError("name the knowledge base: `kb`, or several as `kbs`")
        return self

    @property
    def kb_names(self) -> list[str]:
        """The knowledge bases asked, in order, each once (none: left to the conversation)."""
        return list(dict.fromkeys(self.kbs or ([self.kb] if self.kb is not None else [])))
