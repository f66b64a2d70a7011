"""`kb-server storage migrate --to database|local`: copy every stored object between the data dir and
the PostgreSQL catalog, so that an existing data dir can move to `storage.backend: database` (or back).

The catalog is the same PostgreSQL either way: only the bytes move (uploads, vector segments, keyword
blocks). Nothing is deleted from the source, and re-running copies only what is missing or differs,
so an interrupted migration is finished by running it again. The operator switches
`storage.backend` afterwards.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Literal, TextIO

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from catalog.database import Database
from catalog.migrate import migrate
from catalog.models import File, FileStatus
from ingestion.storage import StoragePaths, build_byte_stores
from kb_server.cli.terminal import human_bytes
from kb_server.runtime.paths import DataPaths
from kb_server.settings import Settings
from vectorstore.byte_copy import CopyTally, copy_objects
from vectorstore.byte_store import ByteStore

Target = Literal["database", "local"]
PROGRESS_EVERY_S = 2.0


class MigrateRefused(Exception):
    """The migration cannot run with these settings (nothing was copied)."""


@dataclass
class MigrateSummary:
    to: Target
    buckets: dict[str, CopyTally] = field(default_factory=dict)

    @property
    def copied(self) -> int:
        return sum(t.copied for t in self.buckets.values())

    @property
    def skipped(self) -> int:
        return sum(t.skipped for t in self.buckets.values())


def migrate_storage(settings: Settings, to: Target, out: TextIO = sys.stdout) -> MigrateSummary:
    """Copy every object of the data dir into the catalog (`to="database"`), or back (`"local"`).

    Raises:
        MigrateRefused: the catalog is not PostgreSQL.
    """
    url = settings.database_url or ""
    if not url.startswith("postgresql"):
        raise MigrateRefused(
            "storage migrate moves the bytes between the data dir and the catalog's PostgreSQL: "
            "set database_url (KB_DATABASE_URL) to the PostgreSQL catalog"
        )
    db = Database(url)
    try:
        migrate(db)  # the stored_objects tables, on a catalog an older kb-server made
        busy = _files_in_flight(db)
    finally:
        db.dispose()
    paths = DataPaths(settings.data_dir)
    storage = StoragePaths(paths.uploads, paths.kbs, paths.tmp)
    local = build_byte_stores("local", url, storage, settings.storage.chunk_bytes)
    database = build_byte_stores("database", url, storage, settings.storage.chunk_bytes)
    source, target = (local, database) if to == "database" else (database, local)
    where = {"local": f"the data dir {paths.root}", "database": f"the catalog {_shown(url)}"}
    print(f"kb-server storage migrate: {where[_other(to)]} -> {where[to]}", file=out, flush=True)
    if busy:
        print(
            f"  note: {busy} file(s) are queued or being ingested; what workers write after this pass "
            "is copied by running it again once they are idle",
            file=out,
        )
    summary = MigrateSummary(to)
    try:
        for bucket, ours, theirs in (("uploads", source.uploads, target.uploads), ("kbs", source.kbs, target.kbs)):
            summary.buckets[bucket] = _copy_bucket(ours, theirs, bucket, out)
    finally:
        database.close()
    _print_summary(summary, where[_other(to)], out)
    return summary


def storage_migrate_main(settings: Settings, to: Target) -> int:
    try:
        migrate_storage(settings, to)
    except MigrateRefused as exc:
        print(f"kb-server storage migrate: {exc}", file=sys.stderr)
        return 2
    return 0


def _copy_bucket(source: ByteStore, target: ByteStore, bucket: str, out: TextIO) -> CopyTally:
    done = [0, 0]  # objects, bytes
    last = [time.monotonic()]

    def progress(name: str, size: int, copied: bool) -> None:
        done[0], done[1] = done[0] + 1, done[1] + size
        if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            print(f"  {bucket}: {done[0]} objects ({human_bytes(done[1])}) so far, at {name}", file=out, flush=True)

    tally = copy_objects(source, target, content_named=bucket == "uploads", progress=progress)
    print(
        f"  {bucket}: {tally.copied} copied ({human_bytes(tally.copied_bytes)}), "
        f"{tally.skipped} already there ({human_bytes(tally.skipped_bytes)})"
        + (f", {tally.only_in_target} only in the target (left alone)" if tally.only_in_target else ""),
        file=out,
        flush=True,
    )
    return tally


def _print_summary(summary: MigrateSummary, source: str, out: TextIO) -> None:
    copied_bytes = sum(t.copied_bytes for t in summary.buckets.values())
    skipped_bytes = sum(t.skipped_bytes for t in summary.buckets.values())
    print(
        f"copied {summary.copied} objects ({human_bytes(copied_bytes)}), skipped {summary.skipped} already there "
        f"({human_bytes(skipped_bytes)}); nothing was deleted from {source}.",
        file=out,
    )
    print(
        f"Now set storage.backend: {summary.to} (KB_STORAGE__BACKEND={summary.to}) on every host and restart.",
        file=out,
        flush=True,
    )


def _files_in_flight(db: Database) -> int:
    with db.read() as s:
        busy = (FileStatus.QUEUED, FileStatus.PROCESSING)
        return int(s.scalar(select(func.count()).select_from(File).where(File.status.in_(busy))) or 0)


def _other(to: Target) -> Target:
    return "local" if to == "database" else "database"


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
