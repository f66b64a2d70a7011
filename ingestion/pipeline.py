"""Ingest one file: parse → chunk → embed → write its segment → commit its chunks.

Safe to run twice: the claim takes a lease and a new run number (a second run of the same file
steps back), chunk ids are deterministic, the segment and keyword block are written under the
run's number and become visible only through the row `complete()` commits, and chunks, status
and the KB version change in that one transaction. A run that loses its lease (the file was
cancelled, deleted or re-queued) stops at its next progress report, before its next write. A
crash before the commit leaves the file `processing` with a lease that expires (or is seen dead
at once on this host); the rerun redoes the work and nothing is doubled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePosixPath

import numpy as np

from catalog import jobs, repository
from catalog.database import Database
from ingestion.archive_guard import ArchiveLimits, check_archive
from ingestion.chunking import chunk_elements
from ingestion.context import IngestionContext
from ingestion.errors import DocumentError, LeaseLost, UnsupportedFile, transient_faults
from ingestion.filetypes import detect_kind
from ingestion.memory_guard import MemoryGuard
from ingestion.parsing import parse_document
from ingestion.reembed import embed_texts, stage_ingested
from vectorstore import Embedder, Segment
from vectorstore.ids import MAX_CHUNKS_PER_FILE, chunk_id
from vectorstore.model_spec import same_vector_space
from vectorstore.tokenize import index_tokens

log = logging.getLogger(__name__)

# Commits refused because a re-embed switched the KB meanwhile, before the run gives up.
_SWITCH_RETRIES = 3

ProgressCallback = Callable[[str, int, int, float], None]

# Share of the progress bar each stage covers; embedding dominates the time.
_STAGE_SPAN = {"parsing": (0.0, 0.1), "chunking": (0.1, 0.15), "embedding": (0.15, 0.95), "indexing": (0.95, 1.0)}


@dataclass(frozen=True)
class Outcome:
    file_id: int
    status: str  # done | failed | cancelled | skipped | lost
    chunks: int = 0
    error: str | None = None
    cached: int = 0  # chunks whose vectors came from the vector cache
    replaced: list[int] = field(default_factory=list)  # older versions deleted by this commit


def ingest(ctx: IngestionContext, file_id: int, owner: str, on_progress: ProgressCallback | None = None) -> Outcome:
    """Run the whole ingestion of one file as `owner` (see `catalog.owners.new_owner`).

    Raises:
        Exception: transient faults (`transient_faults()`) propagate with the file handed back to
            the queue uncounted, so the caller can retry; other unexpected faults propagate with
            the lease still held, for the caller to fail the file as `owner`. Faults of the
            document itself end as `failed`.
    """
    claim = jobs.claim(ctx.db, file_id, owner, ctx.settings.lease_s)
    if claim is None:
        return Outcome(file_id, "cancelled" if jobs.is_cancelled(ctx.db, file_id) else "skipped")
    if claim.attempts > ctx.settings.max_attempts:
        reason = f"gave up after {claim.attempts - 1} attempts that crashed or timed out"
        jobs.fail(ctx.db, file_id, owner, "parse_crash", reason)
        return Outcome(file_id, "failed", error=reason)

    heartbeat = _Heartbeat(ctx.db, file_id, owner, ctx.settings.lease_s)
    heartbeat.start()
    limit = ctx.settings.max_task_memory_mb

    def over_limit(rss: int) -> None:
        reason = f"parsing this file needed more than {limit} MiB of memory (at {rss >> 20} MiB)"
        jobs.fail(ctx.db, file_id, owner, "memory_limit", reason)

    try:
        with MemoryGuard(limit, over_limit):
            return _run(ctx, claim, owner, heartbeat, on_progress)
    except LeaseLost:
        if jobs.is_cancelled(ctx.db, file_id):
            log.info("file %s: cancelled; this run stops", file_id)
            return Outcome(file_id, "cancelled")
        log.warning("file %s: lease lost (deleted, re-queued or taken over); this run stops", file_id)
        return Outcome(file_id, "lost")
    except (DocumentError, UnsupportedFile) as exc:
        jobs.fail(ctx.db, file_id, owner, exc.code, exc.detail)
        return Outcome(file_id, "failed", error=exc.detail)
    except Exception as exc:
        if isinstance(exc, transient_faults()):
            jobs.release(ctx.db, file_id, owner)
        raise
    except BaseException:  # the worker is shutting down: not the file's fault
        jobs.release(ctx.db, file_id, owner)
        raise
    finally:
        heartbeat.stop()


def _run(
    ctx: IngestionContext,
    claim: jobs.Claim,
    owner: str,
    heartbeat: _Heartbeat,
    on_progress: ProgressCallback | None,
) -> Outcome:
    def report(stage: str, current: int, total: int) -> None:
        # Every stage boundary (and embedding batch) asks the catalog: a file cancelled, deleted
        # or taken over refuses the report, and the run stops here, before its next write.
        heartbeat.check()
        start, end = _STAGE_SPAN[stage]
        fraction = start + (end - start) * (current / total if total else 1.0)
        if not jobs.report(ctx.db, claim.file_id, owner, stage, current, total, fraction):
            raise LeaseLost(f"file {claim.file_id}: no longer held at {stage}")
        if on_progress:
            on_progress(stage, current, total, fraction)

    target = _kb_target(ctx, claim.kb_id)
    report("parsing", 0, 1)
    with ctx.uploads.local_file(claim.sha256) as path:
        if path is None:
            raise DocumentError("the uploaded bytes are missing from the store", code="upload_missing")
        with path.open("rb") as handle:
            head = handle.read(8192)
        kind = detect_kind(claim.name, head, path)
        if kind.family == "zip":
            check_archive(path, ArchiveLimits())
        elements = parse_document(
            path, kind.extension, ctx.settings, progress=lambda done, total: report("parsing", done, total)
        )

    report("chunking", 0, 1)
    drafts = chunk_elements(
        elements,
        ctx.settings.chunk_size,
        ctx.settings.chunk_overlap,
        cjk_weight=ctx.settings.cjk_char_weight,
        title_enhance=ctx.settings.title_enhance,
    )
    if not drafts:
        raise DocumentError("no text could be extracted from this file", code="empty_document")
    if len(drafts) > MAX_CHUNKS_PER_FILE:
        raise DocumentError(f"the file yields more than {MAX_CHUNKS_PER_FILE} chunks", code="too_many_chunks")
    source = PurePosixPath(claim.name).name
    rows = [
        jobs.ChunkRow(chunk_id(claim.file_id, i), i, d.text, {"source": source, **d.meta}) for i, d in enumerate(drafts)
    ]

    texts = [r.text for r in rows]
    ids = np.array([r.id for r in rows], dtype=np.int64)
    mode = ctx.settings.keyword_tokenizer
    tokens: list[list[str]] | None = None
    # A re-embed may switch the KB's embedder while this file is embedded: its commit then refuses
    # the old vectors, and the file is embedded again with the new embedder (same chunks).
    for attempt in range(_SWITCH_RETRIES):
        embedder, vectors_at = target
        report("embedding", 0, len(texts))
        hits_before = getattr(embedder, "hits", 0)
        vectors = embed_texts(embedder, texts, lambda done, total: report("embedding", done, total))
        # Passages the vector cache already knew (e.g. the unchanged ones of a new version).
        cached = getattr(embedder, "hits", 0) - hits_before

        report("indexing", 0, 1)
        if tokens is None:
            tokens = [index_tokens(t, mode) for t in texts]
        heartbeat.check()
        segment_set = vectors_at.segment_set
        ctx.segments.write(claim.kb_id, claim.file_id, claim.run, Segment(ids=ids, vectors=vectors), segment_set)
        ctx.keywords.write(claim.kb_id, claim.file_id, claim.run, mode, ids.tolist(), tokens)
        try:
            completed = jobs.complete(ctx.db, claim.file_id, owner, claim.run, rows, cached, segment_set)
        except jobs.EmbedderSwitched:
            ctx.segments.delete_run(claim.kb_id, claim.file_id, claim.run, segment_set)
            if attempt + 1 == _SWITCH_RETRIES:
                raise
            log.info("file %s: the knowledge base was re-embedded meanwhile; embedding it again", claim.file_id)
            target = _kb_target(ctx, claim.kb_id)
            continue
        break
    if completed is None:
        ctx.segments.delete_run(claim.kb_id, claim.file_id, claim.run, segment_set)
        ctx.keywords.delete_run(claim.kb_id, claim.file_id, claim.run)
        raise LeaseLost(f"file {claim.file_id}: lease lost before commit")
    # Readers load the generation the row names; older runs' files are garbage now.
    ctx.segments.prune(claim.kb_id, claim.file_id, keep=claim.run, segment_set=segment_set)
    ctx.keywords.prune(claim.kb_id, claim.file_id, keep=claim.run)
    for old in completed.replaced:  # the versions this one replaced left search in that commit
        ctx.segments.delete(old.kb_id, old.file_id)
        ctx.keywords.delete(old.kb_id, old.file_id)
        repository.collect_blob(ctx.db, old.sha256, partial(ctx.uploads.delete, old.sha256))
    stage_ingested(ctx, claim.kb_id, claim.file_id, claim.run, ids.tolist(), texts)
    return Outcome(
        claim.file_id, "done", chunks=len(rows), cached=cached, replaced=[r.file_id for r in completed.replaced]
    )


def _kb_target(ctx: IngestionContext, kb_id: int) -> tuple[Embedder, jobs.KBVectors]:
    """The embedder that makes the KB's vectors now, and where they go.

    Raises:
        DocumentError: no embedder of this worker makes them (`embedder_mismatch`), or the KB is gone.
    """
    vectors_at = jobs.kb_vectors(ctx.db, kb_id)
    if vectors_at is None:
        raise DocumentError("the knowledge base was deleted", code="kb_deleted")
    embedder = ctx.embedder_for(vectors_at.embedder, vectors_at.dim)
    if not same_vector_space(vectors_at.embedder, embedder.identity, vectors_at.dim, embedder.dim):
        raise DocumentError(
            f"this worker has no embedder that makes the knowledge base's vectors: it was built with "
            f"{vectors_at.embedder.split('|', 1)[0]} ({vectors_at.dim}-d), this worker embeds with {embedder.name} "
            f"({embedder.dim}-d): run the worker with the KB's embedder, then re-ingest",
            code="embedder_mismatch",
        )
    return embedder, vectors_at


class _Heartbeat:
    """Renews the file's lease while the work runs, from a side thread; `check()` raises once
    the lease is lost, so the run stops before its next write."""

    def __init__(self, db: Database, file_id: int, owner: str, lease_s: float) -> None:
        self._db, self._file_id, self._owner, self._lease_s = db, file_id, owner, lease_s
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{file_id}", daemon=True)

    def check(self) -> None:
        if self._lost.is_set():
            raise LeaseLost(f"file {self._file_id}: lease lost")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._lease_s / 4):
            try:
                if not jobs.renew(self._db, self._file_id, self._owner, self._lease_s):
                    self._lost.set()
                    return
            except Exception:
                log.exception("file %s: lease renewal failed", self._file_id)
