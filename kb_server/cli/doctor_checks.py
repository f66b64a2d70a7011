"""The doctor's checks: the catalog, the segments, the uploads, the jobs and the broker.

Stored objects (uploads, segments, keyword blocks) are read through the configured byte store, so the
same checks hold on the data dir and on the catalog's PostgreSQL (`storage.backend: database`); temp
files are each host's own, in its data dir. The catalog is read once; a finding is checked again
against it before it is reported, since the API and workers may be running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError

from catalog.database import Database
from catalog.models import Chunk, File, FileStatus, KnowledgeBase
from ingestion import broker
from ingestion.storage import StoragePaths, build_byte_stores
from ingestion.uploads import UploadStore
from kb_server.cli.doctor_repairs import CatalogRepairs, fresh_file, remove_stale_url, run_file, unlink
from kb_server.cli.doctor_report import Finding, Report
from kb_server.cli.doctor_sets import delete_if_stray, stray_sets
from kb_server.cli.doctor_strays import delete_stray, stray_objects
from kb_server.runtime.paths import DataPaths
from kb_server.runtime.redis_server import discover_url
from kb_server.settings import Settings
from vectorstore import SegmentCorrupt, SegmentStore
from vectorstore.byte_store import ByteStore, LocalByteStore
from vectorstore.ids import file_of
from vectorstore.keyword_index import KeywordSegmentStore

TEMP_MAX_AGE_S = 3600
# Staged uploads, parser and OCR folders, library temp files; caches kept there (jieba's) are not ours.
TEMP_PATTERNS = ("upload-*", "kb-*", "tmp*", "pymp-*")
ORPHAN_UPLOAD_GRACE_S = 600
UNSENT_GRACE_S = 60
_UNREADABLE = (SegmentCorrupt, OSError, ValueError, KeyError, TypeError)


class DoctorChecks:
    """Each check notes a finding, with the repair that fixes it when there is one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.paths = DataPaths(settings.data_dir)
        self.report = Report(self.paths.root)
        self._db: Database | None = None
        self.on_database = settings.storage.backend == "database"
        self.buckets = build_byte_stores(
            settings.storage.backend,
            settings.database_url or "",
            StoragePaths(self.paths.uploads, self.paths.kbs, self.paths.tmp),
            settings.storage.chunk_bytes,
        )
        self.segments = SegmentStore(self.buckets.kbs)
        self.keywords = KeywordSegmentStore(self.buckets.kbs)
        self.uploads = UploadStore(self.buckets.uploads, self.paths.tmp)
        self.broker_url: str | None = None
        self._files: dict[int, File] = {}
        self._chunk_ids: dict[int, set[int]] = {}
        self._repairs: CatalogRepairs | None = None
        self._segment_sets: dict[int, int] = {}  # kb id -> the set of segments it serves (re-embeds)

    @property
    def db(self) -> Database:
        assert self._db is not None
        return self._db

    @property
    def repairs(self) -> CatalogRepairs:
        assert self._repairs is not None
        return self._repairs

    def close(self) -> None:
        self.buckets.close()
        if self._db is not None:
            self._db.dispose()

    def _where(self, store: ByteStore, name: str) -> str:
        """How a finding names a stored object: its path in the data dir, or its bucket and name."""
        if isinstance(store, LocalByteStore):
            return str(store.path(name))
        return f"stored object {'uploads' if store is self.buckets.uploads else 'kbs'}/{name}"

    def _find(self, check: str, detail: str, fix: Callable[[], str] | None = None) -> None:
        self.report.findings.append(Finding(check, detail, fix))

    def diagnose(self) -> Report:
        if self.on_database:
            self.report.notes.append("stored objects: in the catalog's PostgreSQL (storage.backend: database)")
        elif not self.paths.root.is_dir():
            self._find("data_dir", f"{self.paths.root} does not exist or is not a folder")
            return self.report
        self._check_broker()
        if self._open_database():
            self._repairs = CatalogRepairs(self.db, self.settings.ingestion, self.uploads, self.broker_url)
            self._load_catalog()
            self._check_done_files()
            self._check_segment_folders()
            self._check_orphan_chunks()
            self._check_uploads()
            self._check_stray_objects()
            self._check_stuck_jobs()
        self._check_temp_files(p for pattern in TEMP_PATTERNS for p in self.paths.tmp.glob(pattern))
        return self.report

    def _open_database(self) -> bool:
        if not self.settings.database_url and not self.paths.database.exists():
            if self.uploads.all_shas() or any(n.endswith(".faiss") for n in self.buckets.kbs.names("")):
                self._find("database", f"{self.paths.database} is missing but the data dir holds uploads or segments")
            else:
                self.report.notes.append("no catalog yet: nothing was ever uploaded to this data dir")
            return False
        self._db = Database(self.settings.database_url or self.paths.database_url())
        try:
            with self.db.read_engine.connect() as conn:
                if self.db.is_sqlite:
                    result = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check").all()]
                    if result != ["ok"]:
                        self._find("database", "PRAGMA integrity_check: " + "; ".join(result[:10]))
                        return False
                missing = {"knowledge_bases", "files", "chunks"} - set(inspect(conn).get_table_names())
        except SQLAlchemyError as exc:
            self._find("database", f"the catalog cannot be read: {type(exc).__name__}: {exc}"[:500])
            return False
        if missing:
            self._find("database", f"the catalog has no table {', '.join(sorted(missing))}")
        return not missing

    def _load_catalog(self) -> None:
        with self.db.read() as s:
            self._files = {f.id: f for f in s.scalars(select(File))}
            chunk_rows = s.execute(select(Chunk.file_id, Chunk.id)).all()
            self._segment_sets = {k: n for k, n in s.execute(select(KnowledgeBase.id, KnowledgeBase.segment_set))}
            kbs = len(self._segment_sets)
        for file_id, chunk in chunk_rows:
            self._chunk_ids.setdefault(file_id, set()).add(chunk)
        statuses = [f.status for f in self._files.values()]
        self.report.counts.update(knowledge_bases=kbs, files=len(statuses), chunks=len(chunk_rows))
        self.report.counts.update({s: statuses.count(s) for s in sorted(set(statuses))})

    def _fresh(self, file_id: int) -> File | None:
        return fresh_file(self.db, file_id)

    def _unchanged(self, row: File) -> bool:
        now = self._fresh(row.id)
        return now is not None and (now.status, now.generation) == (row.status, row.generation)

    def _segment_ids(self, kind: str, kb_id: int, file_id: int, generation: int) -> list[int]:
        """The ids in the segment (or keyword block) of exactly that generation.

        Raises: FileNotFoundError, or one of _UNREADABLE.
        """
        if kind == "vector":
            segment_set = self._segment_sets.get(kb_id, 0)
            if not self.segments.exists(kb_id, file_id, generation, segment_set):
                raise FileNotFoundError(file_id)
            return [int(i) for i in self.segments.read(kb_id, file_id, generation, segment_set).ids]
        data = self.keywords.read_raw(kb_id, file_id, generation)
        if data is None:
            raise FileNotFoundError(file_id)
        return [int(i) for i in data["ids"]]

    def _check_done_files(self) -> None:
        for row in [f for f in self._files.values() if f.status == FileStatus.DONE]:
            expected = self._chunk_ids.get(row.id, set())
            problems = (
                [] if len(expected) == row.chunks else [f"{len(expected)} chunk rows, the file says {row.chunks}"]
            )
            if any(file_of(c) != row.id for c in expected):
                problems.append("chunk rows with ids outside the file's id range")
            for kind in ("vector", "keyword"):
                try:
                    ids = self._segment_ids(kind, row.kb_id, row.id, row.generation)
                    problems += _compare(f"{kind} segment", ids, expected)
                except FileNotFoundError:
                    problems.append(f"{kind} segment of generation {row.generation} missing")
                except _UNREADABLE:
                    problems.append(f"{kind} segment unreadable")
            if problems and self._unchanged(row):
                detail = f"file {row.id} {row.name!r} (kb {row.kb_id}, done): " + "; ".join(problems)
                self._find("segment", detail, partial(self.repairs.reingest, row))

    def _check_segment_folders(self) -> None:
        store, seen = self.buckets.kbs, 0
        for kb_name in store.folders(""):
            if not kb_name.isdigit():
                continue  # stray objects, all of them (see `doctor_strays`)
            kb_id = int(kb_name)
            live = self.segments.folder_name(kb_id, self._segment_sets.get(kb_id, 0)).rpartition("/")[2]
            # Only the live set: another is a running re-embed's (or what a finished one left).
            for kind, folder, suffix in (("vector", live, ".faiss"), ("keyword", "keywords", ".json")):
                prefix = f"{kb_name}/{folder}/"
                for name in store.names(prefix.rstrip("/")):
                    if "/" in name[len(prefix) :] or not name.endswith(suffix):
                        continue
                    seen += 1
                    reason = self._orphan_reason(kb_name, name, kind)
                    if reason:
                        fix = partial(self.repairs.delete_orphan, store, name)
                        self._find("orphan_segment", f"{self._where(store, name)}: {reason}", fix)
            if isinstance(store, LocalByteStore):  # the database writes in transactions: no temp files
                kb_dir = store.path(kb_name)
                self._check_temp_files([*kb_dir.glob("segments*/.*.tmp"), *kb_dir.glob("keywords/.*.tmp")])
        for kb_id, number in stray_sets(self.db, self.segments):
            where = self._where(store, self.segments.folder_name(kb_id, number))
            detail = f"{where}: no embedder of knowledge base {kb_id} serves or writes it"
            self._find("orphan_segment_set", detail, partial(delete_if_stray, self.db, self.segments, kb_id, number))
        self.report.counts["segment_files"] = seen

    def _check_stray_objects(self) -> None:
        for stray in stray_objects(self.buckets.uploads, self.buckets.kbs, set(self._segment_sets)):
            self._find(
                "stray_object",
                f"{self._where(stray.store, stray.name)}: {stray.reason}",
                partial(delete_stray, self.db, stray),
            )

    def _orphan_reason(self, kb_dir: str, name: str, kind: str) -> str | None:
        parsed = run_file(name)
        if parsed is None:
            return "not a segment name kb-server writes"
        file_id, run = parsed
        row = self._files.get(file_id) or self._fresh(file_id)
        if row is None or row.kb_id != int(kb_dir):
            return f"file {file_id} does not exist in knowledge base {kb_dir}"
        if run and run not in (row.generation, row.run) and self._unchanged(row):
            return f"run {run} of file {file_id} is neither its generation ({row.generation}) nor its current run"
        if row.status == FileStatus.DONE and run and run != row.generation and self._unchanged(row):
            return f"run {run} of file {file_id} was superseded by generation {row.generation}"
        if row.status == FileStatus.CANCELLED and self._unchanged(row):
            return f"file {file_id} was cancelled: none of its runs serves"
        if row.status != FileStatus.FAILED:
            return None  # done: checked above; queued or processing: a worker may own it
        try:
            ids = self._segment_ids(kind, row.kb_id, row.id, row.generation)
        except _UNREADABLE:
            return f"unreadable segment of failed file {row.id}"
        if _compare(kind, ids, self._chunk_ids.get(row.id, set())) and self._unchanged(row):
            return f"file {row.id} failed and the segment's ids are not its chunk rows"
        return None

    def _check_orphan_chunks(self) -> None:
        stray = sorted(set(self._chunk_ids) - set(self._files))
        if stray:
            self._find(
                "orphan_chunks", f"chunk rows of missing files {stray[:9]}", partial(self.repairs.delete_chunks, stray)
            )

    def _check_uploads(self) -> None:
        referenced = {f.sha256 for f in self._files.values()}
        stored = self.uploads.written_at()
        self.report.counts["uploads"] = len(stored)
        cutoff = time.time() - ORPHAN_UPLOAD_GRACE_S
        for sha, written in stored.items():
            if sha not in referenced and written < cutoff:
                where = self._where(self.buckets.uploads, self.uploads.name(sha))
                fix = partial(self.repairs.delete_blob, sha)
                self._find("orphan_upload", f"{where}: no file refers to these bytes", fix)
        present = set(stored)
        for row in self._files.values():
            if row.status in (FileStatus.QUEUED, FileStatus.PROCESSING) and row.sha256 not in present:
                detail = f"file {row.id} {row.name!r} is {row.status} but its bytes ({row.sha256[:12]}…) are gone"
                reason = "the uploaded bytes are missing from the store"
                self._find("missing_upload", detail, partial(self.repairs.fail, row, "upload_missing", reason))

    def _check_temp_files(self, paths: Iterable[Path]) -> None:
        cutoff = time.time() - TEMP_MAX_AGE_S
        for path in paths:
            if max(map(_mtime, [path, *path.rglob("*")])) < cutoff:  # a folder: the newest thing in it
                self._find("temp_file", f"{path}: left over for more than an hour", partial(unlink, path))

    def _check_stuck_jobs(self) -> None:
        now = datetime.now(UTC)
        ingestion = self.settings.ingestion
        try:
            empty_queue = bool(self.broker_url) and broker.queue_depth(str(self.broker_url), ingestion.queue_name) == 0
        except Exception:
            empty_queue = False
        for row in self._files.values():
            age = (now - row.updated_at.replace(tzinfo=row.updated_at.tzinfo or UTC)).total_seconds()
            lease = row.lease_expires_at and row.lease_expires_at.replace(tzinfo=row.lease_expires_at.tzinfo or UTC)
            if row.status == FileStatus.PROCESSING and lease and lease < now:
                why = f"processing, but its lease expired at {lease:%Y-%m-%d %H:%M:%S} UTC"
            elif row.status == FileStatus.QUEUED and not row.enqueued and age > UNSENT_GRACE_S:
                why = "queued but never sent to the broker"
            elif row.status == FileStatus.QUEUED and empty_queue and age > ingestion.stale_queued_s:
                why = "queued, but the broker's queue is empty (the message was lost)"
            else:
                continue
            detail = f"file {row.id} {row.name!r} (attempts {row.attempts}): {why}"
            self._find("stuck_job", detail, partial(self.repairs.unstick, row))

    def _check_broker(self) -> None:
        configured = self.settings.broker_url or self.settings.redis_url
        url = configured or discover_url(self.paths.redis)
        if url is None:
            self.report.notes.append(
                "no broker: KB_BROKER_URL and KB_REDIS_URL are unset and no kb-server up runs on this data dir"
            )
            return
        try:
            broker.ping(url, timeout_s=2.0)
        except Exception as exc:
            if configured:
                self._find("broker", f"the broker at {_without_password(url)} does not answer: {exc}")
            else:
                detail = f"{self.paths.redis_url_file} names {url}, which does not answer (was kb-server up killed?)"
                self._find("broker", detail, partial(remove_stale_url, self.paths))
            return
        self.broker_url = url
        self.report.notes.append(f"the broker answers at {_without_password(url)}")


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def _compare(what: str, ids: list[int], expected: set[int]) -> list[str]:
    found = set(ids)
    problems = [f"{what} holds {len(ids) - len(found)} duplicate id(s)"] if len(found) != len(ids) else []
    if found != expected:
        extra, missing = len(found - expected), len(expected - found)
        problems.append(
            f"{what} has {len(found)} ids for {len(expected)} chunk rows ({extra} extra, {missing} missing)"
        )
    return problems


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
