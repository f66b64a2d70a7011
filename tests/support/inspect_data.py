"""Look straight at a data dir's catalog and segments, to check what the API says."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from vectorstore import SegmentStore

_FILES_OF_KB = (
    "SELECT f.id, f.name, f.chunks, f.status, f.generation, COUNT(c.id), COUNT(DISTINCT c.ordinal) "
    "FROM files f LEFT JOIN chunks c ON c.file_id = f.id WHERE f.kb_id = :kb GROUP BY f.id"
)


def chunk_report(
    data_dir: Path, kb_name: str, database_url: str | None = None, segments: SegmentStore | None = None
) -> dict[str, dict[str, int]]:
    """Per file name: chunk rows, distinct chunk texts, vectors in its segment, and the file's count.

    The catalog is the data dir's SQLite, or the database at `database_url`; the segments are the
    data dir's unless `segments` says where they are.
    """
    kb_id, segment_set, rows = _files_of(data_dir, kb_name, database_url)
    segments = segments or SegmentStore(data_dir / "kbs")
    report = {}
    for file_id, name, chunks, status, generation, rows_n, ordinals in rows:
        vectors = len(segments.read(kb_id, file_id, generation, segment_set).ids) if status == "done" else -1
        report[name] = {"chunks": chunks, "rows": rows_n, "ordinals": ordinals, "vectors": vectors}
    return report


def _files_of(data_dir: Path, kb_name: str, database_url: str | None) -> tuple[int, int, list[Any]]:
    """The KB's id, its live segment set and its files' rows."""
    if database_url is None:
        con = sqlite3.connect(f"file:{data_dir / 'kb.sqlite3'}?mode=ro", uri=True)
        try:
            kb_id, segment_set = con.execute(
                "SELECT id, segment_set FROM knowledge_bases WHERE name = ?", (kb_name,)
            ).fetchone()
            return kb_id, segment_set, con.execute(_FILES_OF_KB.replace(":kb", "?"), (kb_id,)).fetchall()
        finally:
            con.close()
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            kb_id, segment_set = conn.execute(
                text("SELECT id, segment_set FROM knowledge_bases WHERE name = :n"), {"n": kb_name}
            ).one()
            return kb_id, segment_set, list(conn.execute(text(_FILES_OF_KB), {"kb": kb_id}).all())
    finally:
        engine.dispose()


def kb_id_of(database_url: str, kb_name: str) -> int:
    """The id of the KB named `kb_name` in the catalog at `database_url`."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT id FROM knowledge_bases WHERE name = :n"), {"n": kb_name}).scalar_one()
            )
    finally:
        engine.dispose()
