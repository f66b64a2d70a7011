"""Re-embedding a knowledge base with another embedding preset."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_serializer

from catalog.models import ReembedJob
from kb_server.schemas.common import as_utc
from vectorstore.settings import Preset


class ReembedCreate(BaseModel):
    preset: Preset = Field(description="the embedding preset to re-embed the knowledge base with")


class ReembedPublic(BaseModel):
    kb: str
    preset: str = Field(description="the preset the KB is being (or was) re-embedded with")
    from_preset: str | None = Field(description="the preset that served it before; null when none of this server's")
    embedder: str
    dim: int
    status: str = Field(description="running | done | failed | cancelled")
    files_total: int = Field(description="searchable files the switch waits for")
    files_done: int = Field(description="of them, those whose current chunks are embedded with the new preset")
    progress: float = Field(description="files_done / files_total (1.0 when done)")
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None

    @field_serializer("started_at", "finished_at")
    def _ser_time(self, value: datetime | None) -> str | None:
        return None if value is None else as_utc(value).isoformat()

    @classmethod
    def of(cls, job: ReembedJob, kb: str) -> ReembedPublic:
        done = job.status == "done"
        total = job.files_total
        return cls(
            kb=kb,
            preset=job.preset,
            from_preset=job.from_preset,
            embedder=job.embedder,
            dim=job.dim,
            status=job.status,
            files_total=total,
            files_done=total if done else job.files_done,
            progress=1.0 if done or total == 0 else round(job.files_done / total, 4),
            error=job.error,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )
