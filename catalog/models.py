"""Tables of the catalog: the record of truth for knowledge bases, files, chunks, tasks and conversations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class KnowledgeBase(Base):
    __tablename__ = "knowledge_bases"
    # Ids are never handed out twice (PostgreSQL's sequences never go back either): a run of a
    # deleted file or KB must not find its id on a newer one.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    embedder: Mapped[str] = mapped_column(String(255))
    dim: Mapped[int] = mapped_column(Integer)
    # Bumped on every change of the searchable content, so readers know when to refresh.
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    # Which set of segments holds `embedder`'s vectors: 0 `segments/`, else the re-embed job that
    # wrote `segments-<n>/` (catalog/reembed.py switches it, with the embedder, in one UPDATE).
    segment_set: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FileStatus:
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # by request (catalog/cancellation.py); ingested again only when asked


class File(Base):
    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("kb_id", "sha256", name="uq_files_kb_sha256"),
        # One successor per file: racing uploads of new versions form a chain (catalog/versions.py).
        UniqueConstraint("kb_id", "replaces", name="uq_files_kb_replaces"),
        Index("ix_files_kb_name", "kb_id", "name"),
        Index("ix_files_kb_source_url", "kb_id", "source_url"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    status: Mapped[str] = mapped_column(String(16), default=FileStatus.QUEUED, index=True)
    stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    progress: Mapped[float] = mapped_column(default=0.0)
    progress_current: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    task_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enqueued: Mapped[bool] = mapped_column(default=False)
    # Every claim takes the next run number; a run writes its segment and keyword block under it
    # (`<file>.<run>.faiss`), and `complete()` makes that run the file's generation: readers load
    # exactly the files the catalog row names, never a dead run's.
    run: Mapped[int] = mapped_column(Integer, default=0)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Versions of one document (same name): the file this one replaces (deleted when this one is
    # done, so no foreign key) and when that happened.
    version: Mapped[int] = mapped_column(Integer, default=1)
    replaces: Mapped[int | None] = mapped_column(Integer, nullable=True)
    replaced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Chunks of the committed run whose vectors the vector cache gave (not embedded again).
    cached_chunks: Mapped[int] = mapped_column(Integer, default=0)
    # The web page the bytes were fetched from (None: uploaded).
    source_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("file_id", "ordinal", name="uq_chunks_file_ordinal"),)

    # Equal to the FAISS vector id: (file_id << 20) | ordinal.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    kb_id: Mapped[int] = mapped_column(Integer, index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Task(Base):
    """Every task id ever handed out, so `/api/tasks/{id}` knows old ids too."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="PENDING")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ReembedStatus:
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ReembedJob(Base):
    """Re-embedding a KB with another embedder: staged beside the live vectors, switched at the end."""

    __tablename__ = "reembed_jobs"
    __table_args__ = (
        # One running job per KB, whichever process starts it.
        Index(
            "uq_reembed_jobs_running",
            "kb_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        {"sqlite_autoincrement": True},
    )

    # Also the number of the segment set it writes (`segments-<id>/`): never handed out twice.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    preset: Mapped[str] = mapped_column(String(32))
    embedder: Mapped[str] = mapped_column(String(255))
    dim: Mapped[int] = mapped_column(Integer)
    from_preset: Mapped[str | None] = mapped_column(String(32), nullable=True)
    from_set: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ReembedStatus.RUNNING)
    files_total: Mapped[int] = mapped_column(Integer, default=0)
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ReembedStaged(Base):
    """A file's vectors written by a re-embed job, for the file's generation they were made from."""

    __tablename__ = "reembed_staged"

    job_id: Mapped[int] = mapped_column(ForeignKey("reembed_jobs.id", ondelete="CASCADE"), primary_key=True)
    file_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)


class ProcessLock(Base):
    """A named lease that one process at a time holds across hosts (e.g. the recovery sweeper)."""

    __tablename__ = "process_locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IngestMetric(Base):
    """Fleet-wide ingestion counters for `/metrics` (histogram buckets, sums, outcomes), added to by
    every worker: kept here when the broker is not a Redis that could hold them."""

    __tablename__ = "ingest_metrics"

    series: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)


class Conversation(Base):
    """A chat kept on the server; `owner` is the client it belongs to ("" when clients are not told apart)."""

    __tablename__ = "conversations"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(64), default="", index=True)
    # The knowledge bases it asks (one today); a list so several fit later without a migration.
    kbs: Mapped[list[str]] = mapped_column(JSON, default=list)
    title: Mapped[str] = mapped_column(String(200), default="")
    # Turns appended so far: taking the next one is one conditional UPDATE of this counter, and
    # UNIQUE(conversation_id, position) backs it, so concurrent appends never share a position.
    turns: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "position", name="uq_messages_conversation_position"),
        # A retried turn (same client turn id) can never be stored twice; NULLs are distinct.
        Index("uq_messages_conversation_turn", "conversation_id", "turn_id", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text)
    # What the UI needs to show an assistant answer again: its passages and its cited sentences.
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sentences: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    refused_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    turn_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the client's, on the question
    # Of an answer: what was searched (the question made standalone), and what produced it.
    searched_for: Mapped[str | None] = mapped_column(Text, nullable=True)
    mode: Mapped[str | None] = mapped_column(String(16), nullable=True)  # generate | quote
    fallback: Mapped[str | None] = mapped_column(String(16), nullable=True)


class UrlRequest(Base):
    """One `POST /urls`: its crawl limits and how many pages it has taken so far."""

    __tablename__ = "url_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kb_id: Mapped[int] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    max_pages: Mapped[int] = mapped_column(Integer)
    # Pages taken; a page is added only by an UPDATE that keeps this below max_pages, so any
    # number of workers crawling one request never exceed it.
    pages: Mapped[int] = mapped_column(Integer, default=0)
    # Its pages are fetched again every this many seconds (None: never; see ingestion/web/refresh.py).
    refresh_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UrlPageStatus:
    PENDING = "pending"
    FETCHING = "fetching"
    FETCHED = "fetched"  # its file is registered (see the file for ingestion)
    DUPLICATE = "duplicate"  # the same bytes were already in the knowledge base
    FAILED = "failed"


class UrlPage(Base):
    """A URL of a request (a page, or a sitemap to read) and what came of it."""

    __tablename__ = "url_pages"
    __table_args__ = (
        UniqueConstraint("request_id", "url", name="uq_url_pages_request_url"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("url_requests.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    kind: Mapped[str] = mapped_column(String(8), default="page")  # page | sitemap
    depth: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=UrlPageStatus.PENDING)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id", ondelete="SET NULL"), nullable=True)
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The validators the page was served with, for a later conditional re-fetch (refresh).
    etag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The content last read (its bytes' sha256) and what it came to (fetched | duplicate): a
    # refresh that finds it unchanged (304, or the same bytes) ends the same way, and nothing else.
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When the sweeper sends it to be fetched again (None: not scheduled, or being fetched now).
    next_refresh_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UrlRobots(Base):
    """robots.txt of a host as read for a request (a synthetic "disallow all" if unreadable), read
    again when older than a day (a refreshing request lives long)."""

    __tablename__ = "url_robots"

    request_id: Mapped[str] = mapped_column(ForeignKey("url_requests.id", ondelete="CASCADE"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(300), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, default=utcnow)


class StoredObject(Base):
    """Bytes kept in the catalog with `storage.backend: database` (catalog/stored_bytes.py): an
    upload, a segment or a keyword block; its content is in `stored_chunks`."""

    __tablename__ = "stored_objects"
    __table_args__ = (UniqueConstraint("bucket", "name"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(16))  # uploads | kbs
    # Byte order ("C"), so a prefix LIKE uses the unique index: folders are listed by prefix.
    name: Mapped[str] = mapped_column(String(255).with_variant(String(255, collation="C"), "postgresql"))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoredChunk(Base):
    __tablename__ = "stored_chunks"

    object_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("stored_objects.id", ondelete="CASCADE"),
        primary_key=True,
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
