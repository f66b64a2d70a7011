"""Re-embed jobs on the catalog (SQLite and PostgreSQL), real segments and the real embedder, in-process.

The target here is the same MiniLM (a job only needs an embedder identity to stage with): what is
tested is the staging beside the live set, the one-UPDATE switch, files ingested meanwhile, a
commit that lost to the switch, and a failure that leaves the old set serving. The real
minilm → multilingual move is in tests/e2e/test_multilingual_stack.py.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Literal

import pytest

from catalog import Database, KnowledgeBase, reembed, repository
from catalog.errors import Conflict
from catalog.models import ReembedStatus
from catalog.owners import new_owner
from ingestion.context import IngestionContext
from ingestion.pipeline import ProgressCallback, ingest
from ingestion.reembed import check_job, stage_file
from ingestion.settings import IngestionSettings, StorageSettings
from ingestion.storage import StoragePaths, build_stores
from kb_server.cli.doctor_sets import delete_if_stray, stray_sets
from vectorstore import Embedder, KBIndex

pytestmark = pytest.mark.integration

PAGES = {
    "tea.md": "# Tea\n\nGreen tea is steamed or pan-fired soon after picking, so its leaves stay green.",
    "rail.md": "# Railways\n\nHigh-speed trains run on dedicated tracks at up to 350 km/h.",
    "panda.md": "# Pandas\n\nGiant pandas eat bamboo for up to fourteen hours a day.",
}


@pytest.fixture
def ctx(tmp_path: Path, db: Database, embedder: Embedder) -> IngestionContext:
    """On SQLite the bytes are in the data dir; on PostgreSQL in the catalog (storage.backend: database)."""
    backend: Literal["local", "database"] = "local" if db.is_sqlite else "database"
    paths = StoragePaths(tmp_path / "uploads", tmp_path / "kbs", tmp_path / "tmp")
    stores = build_stores(StorageSettings(backend=backend), db.url, paths)
    return IngestionContext(
        db=db,
        uploads=stores.uploads,
        segments=stores.segments,
        settings=IngestionSettings(),
        embedder_factory=lambda: embedder,
        keywords=stores.keywords,
    )


@pytest.fixture
def kb(db: Database, embedder: Embedder) -> KnowledgeBase:
    return repository.create_kb(db, f"kb-{uuid.uuid4().hex[:8]}", "", embedder.identity, embedder.dim)


def _ingest(ctx: IngestionContext, kb: KnowledgeBase, name: str, on_progress: ProgressCallback | None = None) -> int:
    staged = ctx.uploads.stage(io.BytesIO(PAGES[name].encode()))
    ctx.uploads.commit(staged)
    file_id = repository.register_file(ctx.db, kb.id, staged.sha256, name, staged.size, "", uuid.uuid4().hex).file.id
    assert ingest(ctx, file_id, new_owner(), on_progress).status == "done"
    return file_id


def _kb(db: Database, kb_id: int) -> KnowledgeBase:
    with db.read() as s:
        return s.get_one(KnowledgeBase, kb_id)


def _start(ctx: IngestionContext, kb: KnowledgeBase, identity: str | None = None) -> tuple[int, list[int]]:
    job, files = reembed.start(ctx.db, kb.id, "minilm", identity or ctx.embedder.identity, ctx.embedder.dim, "minilm")
    return job.id, [f for f, _ in files]


def _searchable_vectors(ctx: IngestionContext, kb_id: int) -> list[int]:
    """The searchable files, each checked to have exactly its chunks' vectors in the live set."""
    live = _kb(ctx.db, kb_id).segment_set
    index = KBIndex(kb_id, ctx.embedder.dim, ctx.segments, segment_set=live)
    version, generations = repository.done_generations(ctx.db, kb_id)
    index.sync(version, generations)
    assert not index.unreadable
    for file_id, generation in generations.items():
        chunk_ids = [c for c, _ in repository.chunk_texts(ctx.db, file_id)]
        assert ctx.segments.read(kb_id, file_id, generation, live).ids.tolist() == chunk_ids
    assert index.size == sum(len(repository.chunk_texts(ctx.db, f)) for f in generations)
    return sorted(generations)


def test_a_job_stages_beside_the_live_set_and_switches_at_its_last_file(
    ctx: IngestionContext, kb: KnowledgeBase
) -> None:
    first, second = _ingest(ctx, kb, "tea.md"), _ingest(ctx, kb, "rail.md")
    job_id, files = _start(ctx, kb)
    assert sorted(files) == sorted([first, second])
    with pytest.raises(Conflict) as refused:
        _start(ctx, kb)
    assert refused.value.code == "reembed_running"

    assert stage_file(ctx, job_id, first) == "staged"
    before = _kb(ctx.db, kb.id)
    assert (before.segment_set, reembed.get(ctx.db, job_id).status) == (0, ReembedStatus.RUNNING)  # type: ignore[union-attr]
    assert ctx.segments.file_ids(kb.id, job_id) == [first]

    # Ingested while the job runs: its ingestion stages it too, so the switch does not wait for it.
    third = _ingest(ctx, kb, "panda.md")
    assert _kb(ctx.db, kb.id).segment_set == 0
    assert stage_file(ctx, job_id, second) == "staged"

    after = _kb(ctx.db, kb.id)
    job = reembed.get(ctx.db, job_id)
    assert job is not None
    assert (after.segment_set, job.status, job.files_done, job.files_total) == (job_id, "done", 3, 3)
    assert after.version == before.version + 2  # the third file's commit, then the switch
    assert ctx.segments.sets(kb.id) == [job_id]  # the old set is gone
    assert _searchable_vectors(ctx, kb.id) == sorted([first, second, third])


def test_a_commit_that_lost_to_the_switch_embeds_its_file_again_for_the_new_set(
    ctx: IngestionContext, kb: KnowledgeBase
) -> None:
    first = _ingest(ctx, kb, "tea.md")
    switched: list[int] = []

    def switch_while_indexing(stage: str, *_: object) -> None:
        # The run has its vectors of the old set; the KB switches before its commit.
        if stage == "indexing" and not switched:
            job_id, files = _start(ctx, kb)
            assert files == [first]
            assert stage_file(ctx, job_id, first) == "staged"
            switched.append(job_id)

    late = _ingest(ctx, kb, "rail.md", switch_while_indexing)
    assert _kb(ctx.db, kb.id).segment_set == switched[0]
    assert _searchable_vectors(ctx, kb.id) == [first, late]
    assert ctx.segments.runs(kb.id, 0).runs(late) == []  # nothing left in the old set


def test_a_job_this_worker_cannot_embed_for_fails_and_the_old_set_keeps_serving(
    ctx: IngestionContext, kb: KnowledgeBase
) -> None:
    first = _ingest(ctx, kb, "tea.md")
    version = _kb(ctx.db, kb.id).version
    job_id, _ = _start(ctx, kb, identity="bundled:multilingual|0123456789abcdef|mean|384|onnx")

    assert stage_file(ctx, job_id, first) == "failed"
    job = reembed.get(ctx.db, job_id)
    assert job is not None
    assert job.status == "failed"
    assert "is not the one the re-embed was started with" in (job.error or ""), job.error
    assert (_kb(ctx.db, kb.id).segment_set, _kb(ctx.db, kb.id).version) == (0, version)
    assert ctx.segments.sets(kb.id) == [0]
    assert _searchable_vectors(ctx, kb.id) == [first]
    # The failed job no longer blocks another.
    assert _start(ctx, kb)[0] > job_id


def test_a_stalled_job_is_found_and_checked_again(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    first = _ingest(ctx, kb, "tea.md")
    job_id, _ = _start(ctx, kb)  # its staging message is lost: nothing ever stages the file

    assert reembed.stalled(ctx.db, 3600) == []
    assert reembed.stalled(ctx.db, 0) == [job_id]
    assert check_job(ctx, job_id) == [first]  # the sweeper's check sends it again
    assert stage_file(ctx, job_id, first) == "staged"
    assert check_job(ctx, job_id) == []
    assert _kb(ctx.db, kb.id).segment_set == job_id
    assert reembed.stalled(ctx.db, 0) == []


def test_doctor_finds_a_set_nothing_serves_and_keeps_the_live_and_running_ones(
    ctx: IngestionContext, kb: KnowledgeBase
) -> None:
    first = _ingest(ctx, kb, "tea.md")
    failed_id, _ = _start(ctx, kb)
    assert reembed.end(ctx.db, failed_id, ReembedStatus.FAILED, "test")
    running_id, _ = _start(ctx, kb)
    ctx.segments.write(kb.id, first, 1, ctx.segments.read(kb.id, first, 1), segment_set=running_id)
    assert stray_sets(ctx.db, ctx.segments) == []  # the live set and the running job's
    assert stage_file(ctx, running_id, first) == "staged"
    # A late task of the failed job writes after its set was removed.
    ctx.segments.write(kb.id, first, 1, ctx.segments.read(kb.id, first, 1, running_id), segment_set=failed_id)

    assert stray_sets(ctx.db, ctx.segments) == [(kb.id, failed_id)]
    assert delete_if_stray(ctx.db, ctx.segments, kb.id, failed_id) == "deleted"
    assert delete_if_stray(ctx.db, ctx.segments, kb.id, running_id) == "kept: it serves, or a re-embed writes it, now"
    assert ctx.segments.sets(kb.id) == [running_id]
