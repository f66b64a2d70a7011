"""Files of a knowledge base: upload (store, dedupe, enqueue), list, read, delete, re-ingest.

Uploading the bytes of a cancelled file again queues it again (same file id, new task id).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath
from typing import BinaryIO

from catalog import repository
from catalog.models import File, FileStatus
from ingestion.errors import UnsupportedFile
from ingestion.filetypes import SNIFF_BYTES, detect_kind
from ingestion.queueing import send_ingest
from ingestion.uploads import StagedBlob
from kb_server.errors import TooManyRequests
from kb_server.runtime.container import Services
from kb_server.schemas import FileAccepted, UploadError
from kb_server.services.kb_embedders import kb_embedder

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class IncomingFile:
    name: str | None
    stream: BinaryIO


def display_name(raw: str | None) -> str:
    """A client's file name reduced to a label: last path part, no control characters.

    It is stored as metadata only; stored bytes are named by their sha256.
    """
    name = (raw or "").replace("\\", "/")
    name = PurePosixPath(name).name
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "\x00")
    if len(name) > MAX_NAME_LENGTH:  # shorten the stem: the extension says what the file is
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return name or "unnamed"


def upload_files(services: Services, kb_name: str, incoming: list[IncomingFile]) -> list[FileAccepted]:
    """Stage streams (e.g. texts from LangChain's add_texts), then register them as uploads."""
    staged = [(item.name, services.uploads.stage(item.stream)) for item in incoming]
    return register_uploads(services, kb_name, staged)


def register_uploads(
    services: Services, kb_name: str, staged: list[tuple[str | None, StagedBlob]]
) -> list[FileAccepted]:
    """Check each staged upload's type, store it content-addressed, register it once per KB and
    enqueue its ingestion. Every staged temp file is either committed or removed."""
    accepted: list[FileAccepted] = []
    done = 0
    try:
        kb = repository.get_kb(services.db, kb_name)
        kb_embedder(services, kb)  # refuses a KB whose embedder is not served here
        for raw_name, blob in staged:
            accepted.append(_register_one(services, kb.id, raw_name, blob))
            done += 1
    except BaseException:
        for _, blob in staged[done:]:
            services.uploads.discard(blob)
        raise
    return accepted


def _register_one(services: Services, kb_id: int, raw_name: str | None, blob: StagedBlob) -> FileAccepted:
    name = display_name(raw_name)
    try:
        kind = detect_kind(name, blob.head(SNIFF_BYTES), blob.tmp_path)
    except UnsupportedFile as exc:
        services.uploads.discard(blob)
        return FileAccepted(
            file_id=None,
            name=name,
            sha256=blob.sha256,
            status="rejected",
            task_id=None,
            error=UploadError(code=exc.code, detail=exc.detail),
        )
    task_id = uuid.uuid4().hex
    # The bytes are put in place in the transaction that registers them (see release_blob).
    place = partial(services.uploads.commit, blob)
    reg = repository.register_file(services.db, kb_id, blob.sha256, name, blob.size, kind.mime, task_id, place)
    if not reg.created and reg.file.status == FileStatus.CANCELLED:
        # Sending the bytes of a cancelled file again is how it is ingested after all.
        again = repository.requeue_cancelled(services.db, kb_id, reg.file.id, task_id)
        if again is not None:
            send_ingest(services.celery, services.db, again.id, task_id)
            return FileAccepted(file_id=again.id, name=again.name, sha256=blob.sha256, status="queued", task_id=task_id)
    if not reg.created:
        return FileAccepted(
            file_id=reg.file.id, name=name, sha256=blob.sha256, status="duplicate", task_id=reg.file.task_id
        )
    send_ingest(services.celery, services.db, reg.file.id, task_id)
    return FileAccepted(file_id=reg.file.id, name=name, sha256=blob.sha256, status="queued", task_id=task_id)


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
