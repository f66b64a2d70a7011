"""Cancelling the ingestion of files."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from kb_server.schemas.common import MAX_ID


class CancelRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=500, description="why; shown as the file's `error`")


class CancelPending(CancelRequest):
    file_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=10000, description="only these files; default: every queued or processing file"
    )


class CancelResult(BaseModel):
    cancelled: list[int] = Field(description="ids of the files cancelled by this request")
