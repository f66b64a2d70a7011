"""The doctor's repairs: each looks again at what was found, since the API and workers may run, then fixes it.

A repair returns what it did for the report ("deleted", "kept: …"); one that raises is reported as failed.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import delete, select

from catalog import jobs, orphans, repository
from catalog.database import Database
from catalog.models import Chunk, File, FileStatus
from ingestion.celery_app import create_celery
from ingestion.queueing import send_ingest
from ingestion.settings import IngestionSettings
from ingestion.uploads import UploadStore
from kb_server.cli.doctor_report import Report
from kb_server.runtime.paths import DataPaths
from kb_server.runtime.redis_server import discover_url
from vectorstore.byte_store import ByteStore


def apply_repairs(report: Report) -> Report:
    for finding in report.findings:
        if finding.fix is not None:
            try:
                finding.repaired = finding.fix()
            except Exception as exc:
                finding.repair_error = f"{type(exc).__name__}: {exc}"[:500]
    return report


@dataclass(frozen=True)
class CatalogRepairs:
    """The repairs that go through the catalog: made once it is open and the broker is known."""

    db: Database
    ingestion: IngestionSettings
    uploads: UploadStore
    broker_url: str | None

    def _send(self, row: File, task_id: str) -> str:
        if self.broker_url:
            app = create_celery(self.broker_url, self.ingestion)
            try:
                if send_ingest(app, self.db, row.id, task_id):
                    return "sent to the worker"
            finally:
                app.close()
        return "the API's recovery loop will send it"

    def reingest(self, row: File) -> str:
        task_id = uuid.uuid4().hex
        repository.reset_for_reingest(self.db, row.kb_id, row.id, task_id)
        return f"queued for re-ingestion; {self._send(row, task_id)}"

    def unstick(self, row: File) -> str:
        if row.status == FileStatus.PROCESSING and row.attempts >= self.ingestion.max_attempts:
            return self.fail(row, "parse_crash", f"the worker died {row.attempts} times while processing this file")
        lost = orphans.find_orphans(self.db, self.ingestion.stale_queued_s, self.ingestion.unsent_grace_s)
        orphan = next((o for o in lost if o.file_id == row.id), None)
        if orphan is None or not orphans.requeue(self.db, orphan):
            return "kept: a worker holds it now"
        return f"requeued; {self._send(row, row.task_id)}" if row.task_id else self.reingest(row)

    def fail(self, row: File, code: str, reason: str) -> str:
        if not jobs.fail_as_seen(self.db, row.id, row.status, row.lease_owner, code, reason):
            return "kept: it changed since it was checked"
        return f"marked failed ({code})"

    def delete_orphan(self, store: ByteStore, name: str) -> str:
        """Delete a segment or keyword block (`<kb>/<folder>/<file>.<run>.<ext>`) that nothing serves."""
        parsed = run_file(name)
        row = fresh_file(self.db, parsed[0]) if parsed else None
        settled = (FileStatus.FAILED, FileStatus.CANCELLED)
        if row is not None and name.split("/", 1)[0] == str(row.kb_id) and row.status not in settled:
            run = parsed[1] if parsed else 0
            if run == 0 or (run in (row.run, row.generation) and row.status != FileStatus.DONE):
                return "kept: its file is being ingested now"
            if row.status == FileStatus.DONE and run == row.generation:
                return "kept: it is the file's generation now"
        store.delete(name)
        return "deleted"

    def delete_blob(self, sha: str) -> str:
        if not repository.collect_blob(self.db, sha, partial(self.uploads.delete, sha)):
            return "kept: a file refers to it now"  # registered since it was checked
        return "deleted"

    def delete_chunks(self, file_ids: list[int]) -> str:
        with self.db.write() as s:
            s.execute(delete(Chunk).where(Chunk.file_id.in_(file_ids), Chunk.file_id.not_in(select(File.id))))
        return "deleted"


def remove_stale_url(paths: DataPaths) -> str:
    url = discover_url(paths.redis) or ""
    socket = Path(url.removeprefix("redis+socket://").split("?", 1)[0])
    if url.startswith("redis+socket://") and socket.exists():
        raise RuntimeError(f"{socket} still exists: is a Redis starting there?")
    paths.redis_url_file.unlink(missing_ok=True)
    return "removed the stale url file"


def unlink(path: Path) -> str:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    path.unlink(missing_ok=True)
    return "deleted"


def fresh_file(db: Database, file_id: int) -> File | None:
    """The file as it is now: it may have been created or re-ingested since the snapshot."""
    with db.read() as s:
        return s.get(File, file_id)


def run_file(name: str) -> tuple[int, int] | None:
    """(file id, run) of a segment or keyword block name; run 0 for the pre-run-number name."""
    stem = name.rpartition("/")[2].rsplit(".", 1)[0]
    file_part, _, run_part = stem.partition(".")
    if not file_part.isdigit() or (run_part and not run_part.isdigit()):
        return None
    return int(file_part), int(run_part or 0)
