"""Cancelling ingestion: one file, or every pending file of a knowledge base."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from kb_server.api.deps import ServicesDep
from kb_server.schemas import MAX_ID, CancelPending, CancelRequest, CancelResult, ErrorBody, FilePublic
from kb_server.services import cancellation

router = APIRouter(prefix="/api/kbs/{kb}", tags=["files"])
_errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}
FileId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post("/files/{file_id}/cancel", response_model=FilePublic, responses={**_errors, 409: {"model": ErrorBody}})
def cancel_file(kb: str, file_id: FileId, services: ServicesDep, body: CancelRequest | None = None) -> FilePublic:
    """Cancel a file's ingestion: queued work is dropped, a running task stops at its next stage
    (parse, chunk, embed, index) and leaves no chunks or vectors. The file ends `cancelled`, with
    the reason in `error`; upload the same bytes again, or re-ingest it, to ingest it after all.

    Cancelling a cancelled file changes nothing; a `done` or `failed` file is 409 `not_cancellable`.
    """
    reason = body.reason if body else None
    return FilePublic.of(cancellation.cancel_file(services, kb, file_id, reason))


@router.post("/cancel", response_model=CancelResult, responses=_errors)
def cancel_pending(kb: str, services: ServicesDep, body: CancelPending | None = None) -> CancelResult:
    """Cancel every `queued` or `processing` file of the knowledge base, or only those in `file_ids`
    (see the per-file cancel). Files already done, failed or cancelled, and ids not in this
    knowledge base, are left as they are. Returns the ids of the files this request cancelled."""
    body = body or CancelPending()
    return CancelResult(cancelled=cancellation.cancel_pending(services, kb, body.reason, body.file_ids))
