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
from functools import cached_property, partial
from pathlib import PurePosixPath

import numpy as np

from catalog import jobs, repository
from catalog.database import Database
from ingestion.archive_guard import ArchiveLimits, check_archive
from ingestion.chunking import chunk_elements
from ingestion.errors import DocumentError, LeaseLost, UnsupportedFile, transient_faults
from ingestion.filetypes import detect_kind
from ingestion.memory_guard import MemoryGuard
from ingestion.parsing import parse_document
from ingestion.settings import IngestionSettings
from ingestion.uploads import UploadStore
from vectorstore import Embedder, Segment, SegmentStore
from vectorstore.embedder_registry import EmbedderRegistry
from vectorstore.errors import EmbedderUnavailable
from vectorstore.ids import MAX_CHUNKS_PER_FILE, chunk_id
from vectorstore.keyword_index import KeywordSegmentStore
from vectorstore.model_spec import same_vector_space
from vectorstore.tokenize import tokenize

log = logging.getLogger(__name__)

# Chunks embedded between two progress reports.
EMBED_PROGRESS_STEP = 64

ProgressCallback = Callable[[str, int, int, float], None]

# Share of the progress bar each stage covers; embedding dominates the time.
_STAGE_SPAN = {"parsing": (0.0, 0.1), "chunking": (0.1, 0.15), "embedding": (0.15, 0.95), "indexing": (0.95, 1.0)}


@dataclass
class IngestionContext:
    db: Database
    uploads: UploadStore
    segments: SegmentStore
    settings: IngestionSettings
    embedder_factory: Callable[[], Embedder]  # the configured preset's
    keywords: KeywordSegmentStore
    embedders: EmbedderRegistry | None = None  # the other presets', for KBs built with them; None: only the default

    @cached_property
    def embedder(self) -> Embedder:
        return self.embedder_factory()

    def embedder_for(self, recorded: str, dim: int) -> Embedder:
        """The embedder that makes the vectors of a KB recorded as (`recorded`, `dim`); the default
        one when no other does (the caller then refuses the mismatch).

        Raises:
            DocumentError: the KB's embedder is known but cannot be loaded in this worker.
        """
        default = self.embedder
        if self.embedders is None or same_vector_space(recorded, default.identity, dim, default.dim):
            return default
        try:
            return self.embedders.for_kb(recorded, dim) or default
        except EmbedderUnavailable as exc:
            raise DocumentError(
                f"this worker cannot load the knowledge base's embedder: {exc}", code="embedder_unavailable"
            ) from exc


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

    recorded = jobs.kb_embedder(ctx.db, claim.kb_id)
    embedder = ctx.embedder_for(*recorded) if recorded is not None else ctx.embedder
    if recorded is not None and not same_vector_space(recorded[0], embedder.identity, recorded[1], embedder.dim):
        raise DocumentError(
            f"this worker has no embedder that makes the knowledge base's vectors: it was built with "
            f"{recorded[0].split('|', 1)[0]} ({recorded[1]}-d), this worker embeds with {embedder.name} "
            f"({embedder.dim}-d): run the worker with the KB's embedder, then re-ingest",
            code="embedder_mismatch",
        )
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
    batch = EMBED_PROGRESS_STEP
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    # Shortest first across the whole file: each batch pads to its longest text, so similar
    # lengths together waste the least compute.
    order = np.argsort([len(t) for t in texts], kind="stable")
    report("embedding", 0, len(texts))
    hits_before = getattr(ctx.embedder, "hits", 0)
    for start in range(0, len(texts), batch):
        part = order[start : start + batch]
        vectors[part] = embedder.embed_documents([texts[i] for i in part])
        report("embedding", min(start + batch, len(texts)), len(texts))
    # Passages the vector cache already knew (e.g. the unchanged ones of a new version).
    cached = getattr(ctx.embedder, "hits", 0) - hits_before

    report("indexing", 0, 1)
    ids = np.array([r.id for r in rows], dtype=np.int64)
    mode = ctx.settings.keyword_tokenizer
    tokens = [tokenize(t, mode) for t in texts]
    heartbeat.check()
    ctx.segments.write(claim.kb_id, claim.file_id, claim.run, Segment(ids=ids, vectors=vectors))
    ctx.keywords.write(claim.kb_id, claim.file_id, claim.run, mode, ids.tolist(), tokens)
    completed = jobs.complete(ctx.db, claim.file_id, owner, claim.run, rows, cached=cached)
    if completed is None:
        ctx.segments.delete_run(claim.kb_id, claim.file_id, claim.run)
        ctx.keywords.delete_run(claim.kb_id, claim.file_id, claim.run)
        raise LeaseLost(f"file {claim.file_id}: lease lost before commit")
    # Readers load the generation the row names; older runs' files are garbage now.
    ctx.segments.prune(claim.kb_id, claim.file_id, keep=claim.run)
    ctx.keywords.prune(claim.kb_id, claim.file_id, keep=claim.run)
    for old in completed.replaced:  # the versions this one replaced left search in that commit
        ctx.segments.delete(old.kb_id, old.file_id)
        ctx.keywords.delete(old.kb_id, old.file_id)
        repository.collect_blob(ctx.db, old.sha256, partial(ctx.uploads.delete, old.sha256))
    return Outcome(
        claim.file_id, "done", chunks=len(rows), cached=cached, replaced=[r.file_id for r in completed.replaced]
    )


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
