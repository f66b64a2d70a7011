"""Files of a knowledge base: upload (store, dedupe, enqueue), list, read, delete, re-ingest."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from ingestion.catalog import repository
from ingestion.catalog.models import File
from ingestion.errors import UnsupportedFile
from ingestion.filetypes import SNIFF_BYTES, detect_kind
from ingestion.queueing import send_ingest
from kb_server.container import Services
from kb_server.schemas import FileAccepted, UploadError

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
    return name[:MAX_NAME_LENGTH] or "unnamed"


def upload_files(services: Services, kb_name: str, incoming: list[IncomingFile]) -> list[FileAccepted]:
    """Store each file content-addressed, register it once per KB, and enqueue its ingestion."""
    kb = repository.get_kb(services.db, kb_name)
    accepted: list[FileAccepted] = []
    for item in incoming:
        name = display_name(item.name)
        staged = services.uploads.stage(item.stream)
        try:
            kind = detect_kind(name, staged.head(SNIFF_BYTES), staged.tmp_path)
        except UnsupportedFile as exc:
            services.uploads.discard(staged)
            accepted.append(
                FileAccepted(
                    file_id=None,
                    name=name,
                    sha256=staged.sha256,
                    status="rejected",
                    task_id=None,
                    error=UploadError(code=exc.code, detail=exc.detail),
                )
            )
            continue
        task_id = uuid.uuid4().hex
        # Committing bytes and registering them is atomic with respect to deletes (see delete_file).
        with services.blob_lock:
            services.uploads.commit(staged)
            reg = repository.register_file(services.db, kb.id, staged.sha256, name, staged.size, kind.mime, task_id)
        if not reg.created:
            accepted.append(
                FileAccepted(
                    file_id=reg.file.id, name=name, sha256=staged.sha256, status="duplicate", task_id=reg.file.task_id
                )
            )
            continue
        send_ingest(services.celery, services.db, reg.file.id, task_id)
        accepted.append(
            FileAccepted(file_id=reg.file.id, name=name, sha256=staged.sha256, status="queued", task_id=task_id)
        )
    return accepted


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

    Under the same lock as upload's commit-and-register, so bytes that a concurrent upload of the
    same content is about to reference are never removed.
    """
    with services.blob_lock:
        if not repository.sha_in_use(services.db, sha256):
            services.uploads.delete(sha256)


def reingest_file(services: Services, kb_name: str, file_id: int) -> File:
    kb = repository.get_kb(services.db, kb_name)
    task_id = uuid.uuid4().hex
    file = repository.reset_for_reingest(services.db, kb.id, file_id, task_id)
    send_ingest(services.celery, services.db, file.id, task_id)
    return repository.get_file(services.db, kb.id, file_id)
