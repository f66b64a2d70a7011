"""Files: uploading them and reading their ingestion status."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_serializer

from catalog.models import File
from kb_server.schemas.common import UploadError, as_utc


class FileAccepted(BaseModel):
    file_id: int | None
    name: str
    sha256: str | None
    status: Literal["queued", "duplicate", "rejected"]
    task_id: str | None
    error: UploadError | None = None
    # A new version of a document already in the KB (same name, other bytes): the file it replaces.
    version: int | None = None
    replaces: int | None = None


class UploadResult(BaseModel):
    files: list[FileAccepted]


class FilePublic(BaseModel):
    file_id: int
    name: str
    sha256: str
    size: int
    status: Literal["queued", "processing", "done", "failed", "cancelled"]
    stage: str | None
    progress: float
    chunks: int
    error: str | None
    error_code: str | None
    task_id: str | None
    attempts: int
    # Version of its document (files of one name): the file it replaces (deleted once this one is
    # done) and when it did; how many chunks the vector cache gave instead of the embedder.
    version: int
    replaces: int | None
    replaced_at: datetime | None
    cached_chunks: int
    source_url: str | None = Field(default=None, description="the web page the file was fetched from")
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _ser_time(self, value: datetime) -> str:
        return as_utc(value).isoformat()

    @field_serializer("replaced_at")
    def _ser_optional_time(self, value: datetime | None) -> str | None:
        return as_utc(value).isoformat() if value is not None else None

    @classmethod
    def of(cls, f: File) -> FilePublic:
        return cls(
            file_id=f.id,
            name=f.name,
            sha256=f.sha256,
            size=f.size,
            status=f.status,  # type: ignore[arg-type]
            stage=f.stage,
            progress=f.progress,
            chunks=f.chunks,
            error=f.error,
            error_code=f.error_code,
            task_id=f.task_id,
            attempts=f.attempts,
            version=f.version,
            replaces=f.replaces,
            replaced_at=f.replaced_at,
            cached_chunks=f.cached_chunks,
            source_url=f.source_url,
            created_at=f.created_at,
            updated_at=f.updated_at,
        )


class FileList(BaseModel):
    files: list[FilePublic]
