"""Registering staged bytes as a file of a knowledge base: type check, store, dedupe, enqueue.

Shared by uploads (the API) and fetched web pages (the worker), so both name, check and dedupe
files the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath
from typing import Literal

from celery import Celery

from catalog import repository
from catalog.database import Database
from catalog.models import FileStatus
from ingestion.errors import UnsupportedFile
from ingestion.filetypes import SNIFF_BYTES, detect_kind
from ingestion.queueing import send_ingest
from ingestion.uploads import StagedBlob, UploadStore

MAX_NAME_LENGTH = 255


def display_name(raw: str | None, *, keep_path: bool = False) -> str:
    """A client's file name reduced to a label: last path part, no control characters.

    With `keep_path` the relative path is kept (`notes/a.md`, as `kb-server sync` names files), with
    empty, `.` and `..` parts and a leading `/` dropped. It is stored as metadata only; stored bytes
    are named by their sha256.
    """
    name = (raw or "").replace("\\", "/")
    if keep_path:
        parts = (_printable(p) for p in name.split("/"))
        name = "/".join(p for p in parts if p not in ("", ".", ".."))
    else:
        name = _printable(PurePosixPath(name).name)
    if len(name) > MAX_NAME_LENGTH:  # shorten the stem: the extension says what the file is
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return name or "unnamed"


def _printable(part: str) -> str:
    return "".join(ch for ch in part if ch.isprintable() and ch not in "\x00")


@dataclass(frozen=True)
class Registered:
    file_id: int | None
    name: str
    sha256: str
    status: Literal["queued", "duplicate", "rejected"]
    task_id: str | None
    error_code: str | None = None
    error: str | None = None
    source_url: str | None = None  # of the file found or made
    version: int | None = None  # a new version of a document already in the KB: the file it replaces
    replaces: int | None = None


def register_blob(
    db: Database,
    celery: Celery,
    uploads: UploadStore,
    kb_id: int,
    raw_name: str | None,
    blob: StagedBlob,
    *,
    source_url: str | None = None,
    task_id: str | None = None,
    replace_name: bool = False,
    keep_path: bool = False,
    replace_source: bool = False,
) -> Registered:
    """Check a staged blob's type, store it content-addressed, register it once per KB and enqueue
    its ingestion. The staged temp file is committed or removed either way.

    `task_id` (default: a new one) names the ingestion task; a caller that passes the same one on
    a rerun knows a `duplicate` answering with it is its own earlier registration. With
    `replace_name` a file of the same name already in the KB makes this one its next version; with
    `keep_path` the name keeps its relative path (see display_name); with `replace_source` a file
    fetched from the same `source_url` does (and names this one)."""
    name = display_name(raw_name, keep_path=keep_path)
    try:
        kind = detect_kind(name, blob.head(SNIFF_BYTES), blob.tmp_path)
    except UnsupportedFile as exc:
        uploads.discard(blob)
        return Registered(None, name, blob.sha256, "rejected", None, exc.code, exc.detail)
    task_id = task_id or uuid.uuid4().hex
    # The bytes are put in place in the transaction that registers them (see release_blob).
    place = partial(uploads.commit, blob)
    reg = repository.register_file(
        db,
        kb_id,
        blob.sha256,
        name,
        blob.size,
        kind.mime,
        task_id,
        place,
        source_url=source_url,
        replace_name=replace_name,
        replace_source=replace_source,
    )
    if not reg.created and reg.file.status == FileStatus.CANCELLED:
        # Sending the bytes of a cancelled file again is how it is ingested after all.
        again = repository.requeue_cancelled(db, kb_id, reg.file.id, task_id)
        if again is not None:
            send_ingest(celery, db, again.id, task_id)
            return Registered(again.id, again.name, blob.sha256, "queued", task_id, source_url=again.source_url)
    if not reg.created:
        return Registered(reg.file.id, name, blob.sha256, "duplicate", reg.file.task_id, source_url=reg.file.source_url)
    send_ingest(celery, db, reg.file.id, task_id)
    return Registered(
        reg.file.id,
        reg.file.name,
        blob.sha256,
        "queued",
        task_id,
        source_url=source_url,
        version=reg.file.version,
        replaces=reg.file.replaces,
    )
