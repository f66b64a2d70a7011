"""Re-embed a knowledge base with another embedder, file by file, beside the live vectors.

Each file's stored chunk texts (no re-parse) are embedded with the job's target embedder — the
vector cache makes texts seen before under that embedder free — and written into the job's own
segment set; the catalog records the generation staged (catalog/reembed.py). After every file the
job tries to switch: once each searchable file has its current generation staged, one UPDATE
moves the KB to the new embedder and set, and the old set is removed. Keyword blocks do not
depend on the embedder and stay as they are. Any fault ends the job `failed` with the reason;
the old embedder and segments keep serving.

Files ingested while a job runs are staged by their own ingestion, right after it commits (see
`stage_ingested`), rather than the switch waiting on a later pass: their texts and the worker's
target embedder are at hand then, and the switch cannot happen before their generation is
staged, since it checks every searchable file's current generation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from catalog import reembed
from catalog.database import Database
from catalog.models import ReembedJob, ReembedStatus
from ingestion.context import IngestionContext
from ingestion.errors import transient_faults
from vectorstore import Embedder, Segment, SegmentStore
from vectorstore.errors import EmbedderUnavailable
from vectorstore.model_spec import same_vector_space

log = logging.getLogger(__name__)

# Texts per embedding call: each batch pads to its longest text.
EMBED_BATCH = 64


class ReembedFailed(Exception):
    """The job cannot go on (its embedder cannot be loaded here, or makes other vectors)."""


def embed_texts(
    embedder: Embedder, texts: Sequence[str], on_batch: Callable[[int, int], None] | None = None
) -> np.ndarray:
    """Document vectors of `texts`, shortest first across the whole list (similar lengths batch
    with the least padding), in the order given."""
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    for start in range(0, len(texts), EMBED_BATCH):
        part = order[start : start + EMBED_BATCH]
        vectors[part] = embedder.embed_documents([texts[i] for i in part])
        if on_batch is not None:
            on_batch(min(start + EMBED_BATCH, len(texts)), len(texts))
    return vectors


def target_embedder(ctx: IngestionContext, job: ReembedJob) -> Embedder:
    """This worker's embedder of the job's preset, if it makes the job's vectors.

    Raises:
        ReembedFailed: the preset cannot be loaded here, or its embedder is another one.
    """
    try:
        embedder = ctx.embedders.get(job.preset) if ctx.embedders is not None else ctx.embedder
    except EmbedderUnavailable as exc:
        raise ReembedFailed(f"this worker cannot load the {job.preset} embedder: {exc}") from exc
    if not same_vector_space(job.embedder, embedder.identity, job.dim, embedder.dim):
        raise ReembedFailed(
            f"this worker's {job.preset} embedder ({embedder.identity.split('|', 1)[0]}, {embedder.dim}-d) is not the "
            f"one the re-embed was started with ({job.embedder.split('|', 1)[0]}, {job.dim}-d)"
        )
    return embedder


def stage_file(ctx: IngestionContext, job_id: int, file_id: int) -> str:
    """Stage one file for the job (what the `kb.reembed_file` task runs): `staged`, `skipped` (the
    job ended, or the file is no longer searchable) or `failed`; then try the switch."""
    source = reembed.staging_source(ctx.db, job_id, file_id)
    if source is None:
        finish(ctx.db, ctx.segments, job_id)  # a file deleted meanwhile may have been the last one missing
        return "skipped"
    try:
        embedder = target_embedder(ctx, source.job)
        ids, texts = [c for c, _ in source.chunks], [t for _, t in source.chunks]
        _stage(ctx, source.job, file_id, source.generation, ids, texts, embedder)
    except transient_faults():
        raise  # the task retries with backoff
    except Exception as exc:
        fail(ctx.db, ctx.segments, source.job, f"file {file_id}: {_reason(exc)}")
        if not isinstance(exc, ReembedFailed):
            log.exception("re-embed %s: staging file %s failed", job_id, file_id)
        return "failed"
    finish(ctx.db, ctx.segments, job_id)
    return "staged"


def stage_ingested(
    ctx: IngestionContext, kb_id: int, file_id: int, generation: int, ids: list[int], texts: list[str]
) -> None:
    """After a file's ingestion committed: stage its chunks for the KB's running re-embed, if any.

    Read after the commit, so a job started before it is seen here, and one started after it
    lists this file itself. A fault here fails the job (a passing one leaves it to the sweeper), never
    the file.
    """
    job = reembed.running(ctx.db, kb_id)
    if job is None:
        return
    try:
        _stage(ctx, job, file_id, generation, ids, texts, target_embedder(ctx, job))
    except transient_faults() as exc:  # the sweeper's check of a stalled job sends the file again
        log.warning("re-embed %s: staging the new file %s is left for later: %s", job.id, file_id, exc)
        return
    except Exception as exc:
        log.warning("re-embed %s: staging the new file %s failed: %s", job.id, file_id, exc)
        fail(ctx.db, ctx.segments, job, f"file {file_id} (ingested during the re-embed): {_reason(exc)}")
        return
    finish(ctx.db, ctx.segments, job.id)


def _stage(
    ctx: IngestionContext,
    job: ReembedJob,
    file_id: int,
    generation: int,
    ids: list[int],
    texts: list[str],
    embedder: Embedder,
) -> None:
    vectors = embed_texts(embedder, texts)
    segment = Segment(ids=np.array(ids, dtype=np.int64), vectors=vectors)
    ctx.segments.write(job.kb_id, file_id, generation, segment, segment_set=job.id)
    if not reembed.record_staged(ctx.db, job.id, file_id, generation):  # the job ended meanwhile
        ctx.segments.delete_run(job.kb_id, file_id, generation, segment_set=job.id)


def check_job(ctx: IngestionContext, job_id: int) -> list[int]:
    """Switch the job if it is complete; else the files it still misses (to be staged again)."""
    if finish(ctx.db, ctx.segments, job_id):
        return []
    return [file_id for file_id, _ in reembed.try_switch(ctx.db, job_id).missing]


def finish(db: Database, segments: SegmentStore, job_id: int) -> bool:
    """Switch the KB if the job is complete, then remove what the old embedder left; True if it switched."""
    outcome = reembed.try_switch(db, job_id)
    if not outcome.switched or outcome.job is None:
        return False
    job = outcome.job
    log.info(
        "re-embed %s: knowledge base %s now served by %s (%s files)", job.id, job.kb_id, job.preset, job.files_total
    )
    segments.delete_set(job.kb_id, job.from_set)
    _prune_set(db, segments, job)
    return True


def _prune_set(db: Database, segments: SegmentStore, job: ReembedJob) -> None:
    """Drop staged segments no file serves: of files deleted meanwhile, and older generations.
    Runs above a file's generation are left alone: an ingestion may be writing one now."""
    live = dict(reembed.searchable_files(db, job.kb_id))
    known = reembed.known_files(db, job.kb_id)
    runs = segments.runs(job.kb_id, job.id)
    for file_id in runs.file_ids():
        if file_id not in known:
            runs.remove(file_id)
            continue
        for run in runs.runs(file_id):
            if run < live.get(file_id, 0):
                segments.delete_run(job.kb_id, file_id, run, segment_set=job.id)


def fail(
    db: Database, segments: SegmentStore, job: ReembedJob, reason: str, status: str = ReembedStatus.FAILED
) -> bool:
    """End the job with why, and remove its staged set; the live embedder keeps serving. False if
    it had already ended."""
    if not reembed.end(db, job.id, status, reason):
        return False
    log.warning("re-embed %s of knowledge base %s %s: %s", job.id, job.kb_id, status, reason)
    segments.delete_set(job.kb_id, job.id)
    return True


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ReembedFailed) else f"{type(exc).__name__}: {exc}"[:500]
