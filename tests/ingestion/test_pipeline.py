"""`ingest` end to end on tmp_path: real files, the real embedder, the SQLite catalog, real segments."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from catalog import Chunk, Database, File, KnowledgeBase, Task, cancellation, jobs, repository
from catalog.owners import new_owner
from ingestion.context import IngestionContext
from ingestion.pipeline import ingest
from ingestion.settings import IngestionSettings
from ingestion.uploads import UploadStore
from tests.support.archives import write_docx
from tests.support.images import text_image
from tests.support.pdfs import CORRUPT_PDF, image_pdf, pdf_bytes
from vectorstore import Embedder, KBIndex, SegmentStore
from vectorstore.ids import chunk_id, file_of
from vectorstore.keyword_index import KeywordSegmentStore

pytestmark = pytest.mark.integration


@pytest.fixture
def ctx(tmp_path: Path, db: Database, uploads: UploadStore, embedder: Embedder) -> IngestionContext:
    return IngestionContext(
        db=db,
        uploads=uploads,
        segments=SegmentStore(tmp_path / "kbs"),
        settings=IngestionSettings(max_attempts=2),
        embedder_factory=lambda: embedder,
        keywords=KeywordSegmentStore(tmp_path / "kbs"),
    )


def upload(ctx: IngestionContext, kb: KnowledgeBase, name: str, data: bytes) -> int:
    staged = ctx.uploads.stage(io.BytesIO(data))
    ctx.uploads.commit(staged)
    reg = repository.register_file(ctx.db, kb.id, staged.sha256, name, staged.size, "", uuid.uuid4().hex)
    return reg.file.id


def file_row(db: Database, file_id: int) -> File:
    with db.read() as s:
        return s.get_one(File, file_id)


def chunk_rows(db: Database, file_id: int) -> list[Chunk]:
    with db.read() as s:
        return list(s.scalars(select(Chunk).where(Chunk.file_id == file_id).order_by(Chunk.ordinal)))


def chunk_count(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Chunk)) or 0)


def synced_index(ctx: IngestionContext, kb: KnowledgeBase) -> KBIndex:
    index = KBIndex(kb.id, ctx.embedder.dim, ctx.segments)
    index.sync(*repository.done_generations(ctx.db, kb.id))
    return index


def test_real_html_page_is_ingested_and_searchable(ctx: IngestionContext, kb: KnowledgeBase, data_dir: Path) -> None:
    file_id = upload(ctx, kb, "faq/gui.html", (data_dir / "python-faq" / "html" / "gui.html").read_bytes())
    stages: list[tuple[str, float]] = []

    outcome = ingest(
        ctx, file_id, new_owner(), on_progress=lambda stage, _cur, _tot, frac: stages.append((stage, frac))
    )

    assert outcome.status == "done"
    assert outcome.chunks > 3
    row = file_row(ctx.db, file_id)
    assert (row.status, row.chunks, row.generation, row.progress, row.attempts) == ("done", outcome.chunks, 1, 1.0, 1)
    assert row.lease_owner is None
    chunks = chunk_rows(ctx.db, file_id)
    assert [c.id for c in chunks] == [chunk_id(file_id, i) for i in range(outcome.chunks)]
    assert {c.meta["source"] for c in chunks} == {"gui.html"}
    segment = ctx.segments.read(kb.id, file_id, file_row(ctx.db, file_id).generation)
    assert segment.ids.tolist() == [c.id for c in chunks]
    assert segment.vectors.shape == (outcome.chunks, 384)
    np.testing.assert_allclose(np.linalg.norm(segment.vectors, axis=1), 1.0, atol=1e-5)
    assert list(dict.fromkeys(s for s, _ in stages)) == ["parsing", "chunking", "embedding", "indexing"]
    assert [f for _, f in stages] == sorted(f for _, f in stages)
    assert repository.kb_version(ctx.db, kb.id) == 1

    index = synced_index(ctx, kb)
    best, _score = index.search(ctx.embedder.embed_query("Which GUI toolkits can I use with Python?"), 1)[0]
    assert "Tk" in repository.chunks_by_ids(ctx.db, kb.id, [best])[best][0].text

    assert ingest(ctx, file_id, new_owner()).status == "skipped"  # a redelivered task finds the file done


def test_reingest_produces_the_same_chunk_ids_and_no_duplicates(
    ctx: IngestionContext, kb: KnowledgeBase, data_dir: Path
) -> None:
    file_id = upload(ctx, kb, "installed.html", (data_dir / "python-faq" / "html" / "installed.html").read_bytes())
    first = ingest(ctx, file_id, new_owner())
    before = [(c.id, c.text) for c in chunk_rows(ctx.db, file_id)]
    index = synced_index(ctx, kb)

    repository.reset_for_reingest(ctx.db, kb.id, file_id, "reingest-task")
    again = ingest(ctx, file_id, new_owner())

    assert first.status == again.status == "done"
    assert [(c.id, c.text) for c in chunk_rows(ctx.db, file_id)] == before
    assert chunk_count(ctx.db) == len(before)
    assert ctx.segments.read(kb.id, file_id, file_row(ctx.db, file_id).generation).ids.tolist() == [
        cid for cid, _ in before
    ]
    assert [p.name for p in ctx.segments.runs(kb.id).path(file_id, 2).parent.iterdir()] == [f"{file_id}.2.faiss"]
    assert file_row(ctx.db, file_id).generation == 2
    index.sync(*repository.done_generations(ctx.db, kb.id))
    assert index.size == len(before)


def test_generated_pdf_and_docx_are_ingested(ctx: IngestionContext, kb: KnowledgeBase, tmp_path: Path) -> None:
    pdf_id = upload(ctx, kb, "warranty.pdf", pdf_bytes("The warranty lasts two years.", "Batteries are excluded."))
    docx_id = upload(ctx, kb, "policy.docx", write_docx(tmp_path / "policy.docx").read_bytes())

    assert ingest(ctx, pdf_id, new_owner()).status == "done"
    assert ingest(ctx, docx_id, new_owner()).status == "done"

    # A chunk never spans two pages, so each can be cited by its page.
    assert [(c.meta.get("page_number"), c.text) for c in chunk_rows(ctx.db, pdf_id)] == [
        (1, "The warranty lasts two years."),
        (2, "Batteries are excluded."),
    ]
    assert chunk_rows(ctx.db, docx_id)[0].text.startswith("Returns policy\nUnworn shoes")
    assert repository.kb_version(ctx.db, kb.id) == 2


def test_a_scan_reports_parsing_progress_page_by_page(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    lines = ["The harbour master's office opens at nine.", "Moorings are paid for at the office."]
    scan = image_pdf([text_image([line], size=40, width=2000) for line in lines], dpi=200)
    file_id = upload(ctx, kb, "scan.pdf", scan)
    events: list[tuple[str, int, int]] = []

    outcome = ingest(ctx, file_id, new_owner(), lambda stage, current, total, _: events.append((stage, current, total)))

    assert outcome.status == "done"
    parsing = [(current, total) for stage, current, total in events if stage == "parsing"]
    assert parsing[0] == (0, 1)
    assert sorted(parsing[1:]) == [(1, 2), (2, 2)]
    assert [(c.meta.get("page_number"), c.text) for c in chunk_rows(ctx.db, file_id)] == [(1, lines[0]), (2, lines[1])]


def test_corrupt_pdf_fails_with_a_reason(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "broken.pdf", CORRUPT_PDF)

    outcome = ingest(ctx, file_id, new_owner())

    assert outcome.status == "failed"
    row = file_row(ctx.db, file_id)
    assert (row.status, row.error_code, row.lease_owner) == ("failed", "parse_error", None)
    assert row.error is not None
    assert row.error.startswith("the PDF cannot be read")
    assert outcome.error == row.error
    assert chunk_rows(ctx.db, file_id) == []
    assert ctx.segments.runs(kb.id).runs(file_id) == []
    with ctx.db.read() as s:
        assert s.get_one(Task, row.task_id).state == "FAILURE"


def test_content_that_does_not_match_the_name_fails(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "report.pdf", b"PK\x03\x04 a zip, not a pdf")

    assert ingest(ctx, file_id, new_owner()).status == "failed"
    assert file_row(ctx.db, file_id).error_code == "content_mismatch"


def test_missing_upload_bytes_fail(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "notes.txt", b"some notes")
    ctx.uploads.delete(file_row(ctx.db, file_id).sha256)

    assert ingest(ctx, file_id, new_owner()).status == "failed"
    assert file_row(ctx.db, file_id).error_code == "upload_missing"


def test_attempts_above_max_fail_as_parse_crash(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "notes.txt", b"a file whose parser keeps killing the worker")
    for n in range(ctx.settings.max_attempts):  # each run died without releasing its lease
        assert jobs.claim(ctx.db, file_id, f"crashed-{n}", lease_s=0.01) is not None
        time.sleep(0.05)

    outcome = ingest(ctx, file_id, new_owner())

    assert outcome.status == "failed"
    row = file_row(ctx.db, file_id)
    assert (row.status, row.error_code, row.attempts) == ("failed", "parse_crash", ctx.settings.max_attempts + 1)
    assert row.error == "gave up after 2 attempts that crashed or timed out"
    assert ctx.segments.runs(kb.id).runs(file_id) == []


def test_a_file_leased_by_another_worker_is_skipped(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "notes.txt", b"being processed elsewhere")
    jobs.claim(ctx.db, file_id, "other-worker", lease_s=60)

    assert ingest(ctx, file_id, new_owner()).status == "skipped"
    assert file_row(ctx.db, file_id).lease_owner == "other-worker"


def test_an_unexpected_fault_propagates_with_the_lease_held_for_the_task_to_fail_the_file(
    ctx: IngestionContext, kb: KnowledgeBase, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the segment directory should be")
    ctx.segments = SegmentStore(blocked)
    file_id = upload(ctx, kb, "notes.txt", b"Plain notes about the weekly meeting.")
    owner = new_owner()

    with pytest.raises(NotADirectoryError):
        ingest(ctx, file_id, owner)

    row = file_row(ctx.db, file_id)
    assert (row.status, row.lease_owner) == ("processing", owner)
    assert not jobs.fail(ctx.db, file_id, new_owner(), "internal_error", "not the holder")
    assert jobs.fail(ctx.db, file_id, owner, "internal_error", "NotADirectoryError")
    assert chunk_rows(ctx.db, file_id) == []


class _FlakyEmbedder:
    """The real embedder behind a database that blips `faults` times (as a restarting PostgreSQL does)."""

    def __init__(self, real: Embedder, faults: int) -> None:
        self.real, self.faults, self.dim, self.name, self.identity = real, faults, real.dim, real.name, real.identity

    def embed_documents(self, texts: list[str]) -> object:
        if self.faults:
            self.faults -= 1
            raise OperationalError("UPDATE files", {}, Exception("server closed the connection unexpectedly"))
        return self.real.embed_documents(texts)


def test_transient_faults_retry_without_using_up_crash_attempts(
    ctx: IngestionContext, kb: KnowledgeBase, embedder: Embedder
) -> None:
    ctx.embedder_factory = lambda: _FlakyEmbedder(embedder, faults=3)  # type: ignore[assignment,return-value]
    file_id = upload(ctx, kb, "notes.txt", b"Plain notes about the weekly meeting and its minutes.")
    for _ in range(3):  # what Celery's autoretry does with each transient fault
        with pytest.raises(OperationalError):
            ingest(ctx, file_id, new_owner())
        assert file_row(ctx.db, file_id).attempts == 0

    assert ingest(ctx, file_id, new_owner()).status == "done"  # max_attempts is 2 here
    assert file_row(ctx.db, file_id).attempts == 1


def test_a_run_whose_file_is_deleted_stops_and_never_writes_under_the_new_files_id(
    ctx: IngestionContext, kb: KnowledgeBase
) -> None:
    ctx.settings = IngestionSettings(lease_s=0.4)  # renewed every 0.1 s
    doomed = upload(ctx, kb, "old.txt", b"The deleted handbook says the office opens at nine.")
    replacement: list[int] = []

    def delete_mid_embedding(stage: str, _current: int, _total: int, _fraction: float) -> None:
        if stage == "embedding" and not replacement:
            repository.delete_file(ctx.db, kb.id, doomed)
            replacement.append(upload(ctx, kb, "new.txt", b"The new handbook says the office opens at ten."))
            time.sleep(0.5)  # the heartbeat finds the lease gone

    outcome = ingest(ctx, doomed, new_owner(), on_progress=delete_mid_embedding)

    assert outcome.status == "lost"
    (new_id,) = replacement
    assert new_id != doomed
    assert ctx.segments.runs(kb.id).runs(doomed) == []
    assert ctx.keywords.runs(kb.id).runs(doomed) == []
    assert ingest(ctx, new_id, new_owner()).status == "done"
    index = synced_index(ctx, kb)
    hits = index.search(ctx.embedder.embed_query("when does the office open"), 10)
    assert {file_of(i) for i, _ in hits} == {new_id}


@pytest.mark.parametrize("stage", ["parsing", "chunking", "embedding", "indexing"])
def test_a_run_cancelled_at_any_stage_stops_at_the_next_boundary_and_leaves_nothing(
    ctx: IngestionContext, kb: KnowledgeBase, stage: str
) -> None:
    file_id = upload(ctx, kb, "notes.md", b"# Notes\n\n" + b"The office opens at nine on weekdays. " * 60)
    seen: list[str] = []

    def cancel_at(at: str, _current: int, _total: int, _fraction: float) -> None:
        seen.append(at)
        if at == stage and seen.count(at) == 1:
            assert cancellation.cancel_file(ctx.db, kb.id, file_id, "stop") is not None

    outcome = ingest(ctx, file_id, new_owner(), on_progress=cancel_at)

    assert outcome.status == "cancelled"
    assert seen[-1] == stage  # no progress after the cancel: the next report was refused
    row = file_row(ctx.db, file_id)
    assert (row.status, row.error, row.chunks, row.generation) == ("cancelled", "stop", 0, 0)
    assert chunk_rows(ctx.db, file_id) == []
    # At "indexing" the run had written its segment and keyword block: its refused commit deleted them.
    assert ctx.segments.runs(kb.id).runs(file_id) == []
    assert ctx.keywords.runs(kb.id).runs(file_id) == []
    assert ingest(ctx, file_id, new_owner()).status == "cancelled"  # a redelivered task does nothing
