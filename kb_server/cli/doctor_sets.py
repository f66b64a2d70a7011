"""The doctor's check of segment sets: a KB's folder of segments that nothing serves or writes.

A KB serves one set (`segment_set` in its row); a running re-embed writes another. Any other set
is left over — the old embedder's after a switch whose clean-up did not finish, or a failed
re-embed's that a late task wrote into — and is removed by `--repair`, after checking again.
"""

from __future__ import annotations

from sqlalchemy import select

from catalog.database import Database
from catalog.models import KnowledgeBase, ReembedJob, ReembedStatus
from vectorstore import SegmentStore


def stray_sets(db: Database, segments: SegmentStore) -> list[tuple[int, int]]:
    """(kb id, set) of every set on disk that is neither a KB's live one nor a running job's."""
    kept = _kept(db)
    live = {kb_id for kb_id, _ in kept}
    return [(kb_id, number) for kb_id in sorted(live) for number in segments.sets(kb_id) if (kb_id, number) not in kept]


def delete_if_stray(db: Database, segments: SegmentStore, kb_id: int, number: int) -> str:
    if (kb_id, number) in _kept(db):
        return "kept: it serves, or a re-embed writes it, now"
    segments.delete_set(kb_id, number)
    return "deleted"


def _kept(db: Database) -> set[tuple[int, int]]:
    with db.read() as s:
        live = s.execute(select(KnowledgeBase.id, KnowledgeBase.segment_set)).all()
        running = s.execute(
            select(ReembedJob.kb_id, ReembedJob.id).where(ReembedJob.status == ReembedStatus.RUNNING)
        ).all()
        return {(int(k), int(n)) for k, n in [*live, *running]}
