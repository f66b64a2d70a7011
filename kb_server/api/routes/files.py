"""Files of a knowledge base: upload, status, delete, re-ingest."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from ingestion.errors import UnsupportedFile
from kb_server.api.deps import ServicesDep
from kb_server.api.multipart_upload import receive_files
from kb_server.schemas import ErrorBody, FileList, FilePublic, UploadResult
from kb_server.services import files as file_service
from kb_server.services.files import OnExistingName

router = APIRouter(prefix="/api/kbs/{kb}/files", tags=["files"])
_errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadResult,
    responses={
        **_errors,
        400: {"model": ErrorBody},
        413: {"model": ErrorBody},
        415: {"model": ErrorBody},
        429: {"model": ErrorBody},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["files"],
                        "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            "on_existing_name": {"type": "string", "enum": ["replace", "keep_both"]},
                        },
                    }
                }
            },
        }
    },
)
async def upload_files(
    kb: str,
    request: Request,
    services: ServicesDep,
    on_existing_name: Annotated[OnExistingName | None, Query(description="replace (default) | keep_both")] = None,
    keep_path: Annotated[
        bool, Query(description="name each file by its relative path (notes/a.md), not only its last part")
    ] = False,
) -> UploadResult:
    """Upload one or many files (multipart field `files`). Answers at once, before any parsing.

    Each file is `queued` (its ingestion task id is given), `duplicate` (the same bytes are already
    in this knowledge base: the existing `file_id` is given), or `rejected` with a reason. The bytes
    of a `cancelled` file are queued again, under its `file_id`. A file whose name is already in the
    knowledge base (other bytes) becomes that document's next version (`version`, `replaces`: the old
    one serves until the new one is done, then leaves), unless `on_existing_name=keep_both` (query
    parameter or form field) keeps both as separate documents. A file's name is the last part of
    the name sent, unless `keep_path=true` keeps its relative path (as `kb-server sync` does, so
    `a/README.md` and `b/README.md` stay two documents). If every
    file is rejected the answer is 415. Limits (`limits.*`): a file or request too large is 413
    (refused as the bytes arrive), too many files is 400, too much work pending is 429.
    """
    await run_in_threadpool(file_service.check_capacity, services, kb)
    form = {"on_existing_name": ""}
    received = await receive_files(request, services.uploads, services.settings.limits, form)
    staged = [(r.name, r.staged) for r in received]
    try:
        replace = file_service.replaces_by_name(on_existing_name or form["on_existing_name"] or None)
    except BaseException:
        for r in received:
            services.uploads.discard(r.staged)
        raise
    accepted = await run_in_threadpool(file_service.register_uploads, services, kb, staged, replace, keep_path)
    if all(a.status == "rejected" for a in accepted):
        reasons = "; ".join(a.error.detail for a in accepted if a.error)
        codes = {a.error.code for a in accepted if a.error}
        raise UnsupportedFile(reasons, code=codes.pop() if len(codes) == 1 else "unsupported_file_type")
    return UploadResult(files=accepted)


@router.get("", response_model=FileList, responses=_errors)
def list_files(kb: str, services: ServicesDep) -> FileList:
    """Every file of the knowledge base with its ingestion status."""
    return FileList(files=[FilePublic.of(f) for f in file_service.list_files(services, kb)])


@router.get("/{file_id}", response_model=FilePublic, responses=_errors)
def read_file_status(kb: str, file_id: int, services: ServicesDep) -> FilePublic:
    """A file's status: `queued`, `processing` (with `stage` and `progress` 0..1), `done`, or `failed` or
    `cancelled` (with `error`)."""
    return FilePublic.of(file_service.get_file(services, kb, file_id))


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_errors)
def delete_file(kb: str, file_id: int, services: ServicesDep) -> Response:
    """Delete a file; its chunks leave search results at once."""
    file_service.delete_file(services, kb, file_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{file_id}/reingest", status_code=status.HTTP_202_ACCEPTED, response_model=FilePublic, responses=_errors)
def reingest_file(kb: str, file_id: int, services: ServicesDep) -> FilePublic:
    """Parse, chunk and embed the file again (e.g. after changing chunking settings)."""
    return FilePublic.of(file_service.reingest_file(services, kb, file_id))
