"""Files of a knowledge base: upload (store, dedupe, enqueue), list, read, delete, re-ingest.

Uploading the bytes of a cancelled file again queues it again (same file id, new task id). A
file under a name already in the KB (other bytes) is that document's next version unless the
client asks to keep both (catalog/versions.py).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO, Literal

from catalog import repository
from catalog.models import File
from ingestion.queueing import send_ingest
from ingestion.registration import register_blob
from ingestion.uploads import StagedBlob
from kb_server.errors import InvalidInput, TooManyRequests
from kb_server.runtime.container import Services
from kb_server.schemas import FileAccepted, UploadError
from kb_server.services.kb_embedders import kb_embedder
from kb_server.services.reembed import after_file_left

log = logging.getLogger(__name__)

OnExistingName = Literal["replace", "keep_both"]


def replaces_by_name(option: str | None) -> bool:
    """Whether an upload under an existing name is that document's next version (the default).

    Raises:
        InvalidInput: the option is neither `replace` nor `keep_both`.
    """
    if option in (None, "replace"):
        return True
    if option == "keep_both":
        return False
    raise InvalidInput(f"on_existing_name must be replace or keep_both, not {option!r}", code="invalid_option")


@dataclass(frozen=True)
class IncomingFile:
    name: str | None
    stream: BinaryIO


def upload_files(
    services: Services, kb_name: str, incoming: list[IncomingFile], replace: bool = True
) -> list[FileAccepted]:
    """Stage streams (e.g. texts from LangChain's add_texts), then register them as uploads."""
    staged = [(item.name, services.uploads.stage(item.stream)) for item in incoming]
    return register_uploads(services, kb_name, staged, replace)


def register_uploads(
    services: Services,
    kb_name: str,
    staged: list[tuple[str | None, StagedBlob]],
    replace: bool = True,
    keep_path: bool = False,
) -> list[FileAccepted]:
    """Check each staged upload's type, store it content-addressed, register it once per KB and
    enqueue its ingestion. Every staged temp file is either committed or removed. With `keep_path`
    a name keeps its relative path (`notes/a.md`), else only its last part."""
    accepted: list[FileAccepted] = []
    done = 0
    try:
        kb = repository.get_kb(services.db, kb_name)
        kb_embedder(services, kb)  # refuses a KB whose embedder is not served here
        for raw_name, blob in staged:
            accepted.append(_register_one(services, kb.id, raw_name, blob, replace, keep_path))
            done += 1
    except BaseException:
        for _, blob in staged[done:]:
            services.uploads.discard(blob)
        raise
    return accepted


def _register_one(
    services: Services, kb_id: int, raw_name: str | None, blob: StagedBlob, replace: bool, keep_path: bool
) -> FileAccepted:
    r = register_blob(
        services.db,
        services.celery,
        services.uploads,
        kb_id,
        raw_name,
        blob,
        replace_name=replace,
        keep_path=keep_path,
    )
    error = UploadError(code=r.error_code or "", detail=r.error or "") if r.status == "rejected" else None
    return FileAccepted(
        file_id=r.file_id,
        name=r.name,
        sha256=r.sha256,
        status=r.status,
        task_id=r.task_id,
        error=error,
        version=r.version,
        replaces=r.replaces,
    )


def check_capacity(services: Services, kb_name: str) -> None:
    """Refuse new uploads while too much work is waiting.

    Raises:
        NotFound: no such knowledge base (checked before any byte is read).
        TooManyRequests: the pending queue is full.
    """
    repository.get_kb(services.db, kb_name)
    pending = repository.count_pending(services.db)
    limit = services.settings.limits.max_pending_files
    if pending >= limit:
        raise TooManyRequests(
            f"{pending} files are waiting to be ingested (limit {limit}); try again later", retry_after=30
        )


def list_files(services: Services, kb_name: str) -> list[File]:
    kb = repository.get_kb(services.db, kb_name)
    return list(repository.list_files(services.db, kb.id))


def get_file(services: Services, kb_name: str, file_id: int) -> File:
    kb = repository.get_kb(services.db, kb_name)
    return repository.get_file(services.db, kb.id, file_id)


def delete_file(services: Services, kb_name: str, file_id: int) -> None:
    """Remove the file from the catalog (and so from search, at once), then its segment and bytes."""
    kb = repository.get_kb(services.db, kb_name)
    file = repository.delete_file(services.db, kb.id, file_id)
    services.segments.delete(kb.id, file_id)
    services.keywords.delete(kb.id, file_id)
    release_blob(services, file.sha256)
    after_file_left(services, kb.id)


def release_blob(services: Services, sha256: str) -> None:
    """Delete stored bytes no file refers to any more.

    Decided in the database under the sha256's lock, which an upload of the same bytes holds while
    it puts them in place and registers them — in this process or any other on the data dir.
    """
    repository.collect_blob(services.db, sha256, partial(services.uploads.delete, sha256))


def reingest_file(services: Services, kb_name: str, file_id: int) -> File:
    kb = repository.get_kb(services.db, kb_name)
    task_id = uuid.uuid4().hex
    file = repository.reset_for_reingest(services.db, kb.id, file_id, task_id)
    send_ingest(services.celery, services.db, file.id, task_id)
    return repository.get_file(services.db, kb.id, file_id)
