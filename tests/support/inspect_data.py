"""Look straight at a data dir's catalog and segments, to check what the API says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vectorstore import SegmentStore


def chunk_report(data_dir: Path, kb_name: str) -> dict[str, dict[str, int]]:
    """Per file name: chunk rows, distinct chunk texts, vectors in its segment, and the file's count."""
    con = sqlite3.connect(f"file:{data_dir / 'kb.sqlite3'}?mode=ro", uri=True)
    try:
        kb_id, segment_set = con.execute(
            "SELECT id, segment_set FROM knowledge_bases WHERE name = ?", (kb_name,)
        ).fetchone()
        rows = con.execute(
            "SELECT f.id, f.name, f.chunks, f.status, f.generation, COUNT(c.id), COUNT(DISTINCT c.ordinal) "
            "FROM files f LEFT JOIN chunks c ON c.file_id = f.id WHERE f.kb_id = ? GROUP BY f.id",
            (kb_id,),
        ).fetchall()
    finally:
        con.close()
    segments = SegmentStore(data_dir / "kbs")
    report = {}
    for file_id, name, chunks, status, generation, rows_n, ordinals in rows:
        vectors = len(segments.read(kb_id, file_id, generation, segment_set).ids) if status == "done" else -1
        report[name] = {"chunks": chunks, "rows": rows_n, "ordinals": ordinals, "vectors": vectors}
    return report
