"""`ingest` end to end on tmp_path: real files, the real embedder, the SQLite catalog, real segments."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from ingestion.catalog import Chunk, Database, File, KnowledgeBase, Task, jobs, repository
from ingestion.pipeline import IngestionContext, ingest
from ingestion.settings import IngestionSettings
from ingestion.uploads import UploadStore
from tests.support.archives import write_docx
from tests.support.images import text_image
from tests.support.pdfs import CORRUPT_PDF, image_pdf, pdf_bytes
from vectorstore import Embedder, KBIndex, SegmentStore
from vectorstore.ids import chunk_id
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

    outcome = ingest(ctx, file_id, on_progress=lambda stage, _cur, _tot, frac: stages.append((stage, frac)))

    assert outcome.status == "done"
    assert outcome.chunks > 3
    row = file_row(ctx.db, file_id)
    assert (row.status, row.chunks, row.generation, row.progress, row.attempts) == ("done", outcome.chunks, 1, 1.0, 1)
    assert row.lease_owner is None
    chunks = chunk_rows(ctx.db, file_id)
    assert [c.id for c in chunks] == [chunk_id(file_id, i) for i in range(outcome.chunks)]
    assert {c.meta["source"] for c in chunks} == {"gui.html"}
    segment = ctx.segments.read(kb.id, file_id)
    assert segment.ids.tolist() == [c.id for c in chunks]
    assert segment.vectors.shape == (outcome.chunks, 384)
    np.testing.assert_allclose(np.linalg.norm(segment.vectors, axis=1), 1.0, atol=1e-5)
    assert list(dict.fromkeys(s for s, _ in stages)) == ["parsing", "chunking", "embedding", "indexing"]
    assert [f for _, f in stages] == sorted(f for _, f in stages)
    assert repository.kb_version(ctx.db, kb.id) == 1

    index = synced_index(ctx, kb)
    best, _score = index.search(ctx.embedder.embed_query("Which GUI toolkits can I use with Python?"), 1)[0]
    assert "Tk" in repository.chunks_by_ids(ctx.db, kb.id, [best])[best][0].text

    assert ingest(ctx, file_id).status == "skipped"  # a redelivered task finds the file done


def test_reingest_produces_the_same_chunk_ids_and_no_duplicates(
    ctx: IngestionContext, kb: KnowledgeBase, data_dir: Path
) -> None:
    file_id = upload(ctx, kb, "installed.html", (data_dir / "python-faq" / "html" / "installed.html").read_bytes())
    first = ingest(ctx, file_id)
    before = [(c.id, c.text) for c in chunk_rows(ctx.db, file_id)]
    index = synced_index(ctx, kb)

    repository.reset_for_reingest(ctx.db, kb.id, file_id, "reingest-task")
    again = ingest(ctx, file_id)

    assert first.status == again.status == "done"
    assert [(c.id, c.text) for c in chunk_rows(ctx.db, file_id)] == before
    assert chunk_count(ctx.db) == len(before)
    assert ctx.segments.read(kb.id, file_id).ids.tolist() == [cid for cid, _ in before]
    assert [p.name for p in ctx.segments.path(kb.id, file_id).parent.iterdir()] == [f"{file_id}.faiss"]
    assert file_row(ctx.db, file_id).generation == 2
    index.sync(*repository.done_generations(ctx.db, kb.id))
    assert index.size == len(before)


def test_generated_pdf_and_docx_are_ingested(ctx: IngestionContext, kb: KnowledgeBase, tmp_path: Path) -> None:
    pdf_id = upload(ctx, kb, "warranty.pdf", pdf_bytes("The warranty lasts two years.", "Batteries are excluded."))
    docx_id = upload(ctx, kb, "policy.docx", write_docx(tmp_path / "policy.docx").read_bytes())

    assert ingest(ctx, pdf_id).status == "done"
    assert ingest(ctx, docx_id).status == "done"

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

    outcome = ingest(ctx, file_id, lambda stage, current, total, _: events.append((stage, current, total)))

    assert outcome.status == "done"
    parsing = [(current, total) for stage, current, total in events if stage == "parsing"]
    assert parsing[0] == (0, 1)
    assert sorted(parsing[1:]) == [(1, 2), (2, 2)]
    assert [(c.meta.get("page_number"), c.text) for c in chunk_rows(ctx.db, file_id)] == [(1, lines[0]), (2, lines[1])]


def test_corrupt_pdf_fails_with_a_reason(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "broken.pdf", CORRUPT_PDF)

    outcome = ingest(ctx, file_id)

    assert outcome.status == "failed"
    row = file_row(ctx.db, file_id)
    assert (row.status, row.error_code, row.lease_owner) == ("failed", "parse_error", None)
    assert row.error is not None
    assert row.error.startswith("the PDF cannot be read")
    assert outcome.error == row.error
    assert chunk_rows(ctx.db, file_id) == []
    assert not ctx.segments.path(kb.id, file_id).exists()
    with ctx.db.read() as s:
        assert s.get_one(Task, row.task_id).state == "FAILURE"


def test_content_that_does_not_match_the_name_fails(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "report.pdf", b"PK\x03\x04 a zip, not a pdf")

    assert ingest(ctx, file_id).status == "failed"
    assert file_row(ctx.db, file_id).error_code == "content_mismatch"


def test_missing_upload_bytes_fail(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "notes.txt", b"some notes")
    ctx.uploads.delete(file_row(ctx.db, file_id).sha256)

    assert ingest(ctx, file_id).status == "failed"
    assert file_row(ctx.db, file_id).error_code == "upload_missing"


def test_attempts_above_max_fail_as_parse_crash(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "notes.txt", b"a file whose parser keeps killing the worker")
    for n in range(ctx.settings.max_attempts):  # each run died without releasing its lease
        assert jobs.claim(ctx.db, file_id, f"crashed-{n}", lease_s=0.01) is not None
        time.sleep(0.05)

    outcome = ingest(ctx, file_id)

    assert outcome.status == "failed"
    row = file_row(ctx.db, file_id)
    assert (row.status, row.error_code, row.attempts) == ("failed", "parse_crash", ctx.settings.max_attempts + 1)
    assert row.error == "gave up after 2 attempts that crashed or timed out"
    assert not ctx.segments.path(kb.id, file_id).exists()


def test_a_file_leased_by_another_worker_is_skipped(ctx: IngestionContext, kb: KnowledgeBase) -> None:
    file_id = upload(ctx, kb, "notes.txt", b"being processed elsewhere")
    jobs.claim(ctx.db, file_id, "other-worker", lease_s=60)

    assert ingest(ctx, file_id).status == "skipped"
    assert file_row(ctx.db, file_id).lease_owner == "other-worker"


def test_an_unexpected_fault_hands_the_file_back_to_the_queue(
    ctx: IngestionContext, kb: KnowledgeBase, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the segment directory should be")
    ctx.segments = SegmentStore(blocked)
    file_id = upload(ctx, kb, "notes.txt", b"Plain notes about the weekly meeting.")

    with pytest.raises(NotADirectoryError):
        ingest(ctx, file_id)

    row = file_row(ctx.db, file_id)
    assert (row.status, row.lease_owner, row.error_code) == ("queued", None, None)
    assert chunk_rows(ctx.db, file_id) == []
