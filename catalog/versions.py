"""Versions of a document: a file uploaded under the name of one already in its knowledge base.

The new file records the one it replaces (`replaces`) and serves nothing until it is done; the
transaction that marks it done (`jobs.complete`) also deletes the rows and chunks of every
version it replaces and bumps the KB version, so readers see the old segment leave and the new
one arrive at once: search is never empty or doubled for the document. Its segment, keyword block
and bytes are removed after that commit, like a deleted file's. A new version that fails or is
cancelled deletes nothing: the old one keeps serving.

UNIQUE(kb_id, replaces) gives each file at most one successor, so of two uploads racing to
replace the same file one insert wins and the other becomes the winner's successor: versions form
a chain with one tip, never two current versions.

A document is named by its file name (uploads) or by its source URL (web pages, whose titles
change): a page read again with other bytes becomes the next version of the file with its URL,
under that file's name. A version done replaces the whole chain below
it (a failed or still pending middle version included).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import aliased

from catalog.models import Chunk, File, Task


@dataclass(frozen=True)
class Replaced:
    """A file deleted as an older version: its stored files are to be removed after commit."""

    file_id: int
    kb_id: int
    sha256: str


def tip(s: Any, kb_id: int, name: str) -> File | None:
    """The newest file of that name that no other file replaces (the document's latest version)."""
    return _tip(s, kb_id, File.name == name)


def tip_of_source(s: Any, kb_id: int, source_url: str) -> File | None:
    """The latest version of the document fetched from `source_url` (a web page read again)."""
    return _tip(s, kb_id, File.source_url == source_url)


def _tip(s: Any, kb_id: int, document: Any) -> File | None:
    successor = aliased(File)
    has_successor = select(successor.id).where(successor.kb_id == kb_id, successor.replaces == File.id).exists()
    return s.scalar(select(File).where(File.kb_id == kb_id, document, ~has_successor).order_by(File.id.desc()).limit(1))


# PostgreSQL advisory locks of a document's versions: (this namespace, crc32 of kb id and name).
_DOCUMENT_LOCK_NAMESPACE = 0x6B62_7672  # "kbvr"


def lock_document(s: Any, kb_id: int, name: str) -> None:
    """Make completions of one document's versions take turns (PostgreSQL; SQLite writers always do).

    Each completion holds its own row and deletes the rows below it: two versions completing at
    once would each wait for the other's rows (a deadlock). Taken before the first write.
    """
    if s.get_bind().dialect.name != "postgresql":
        return
    key = zlib.crc32(f"{kb_id}/{name}".encode())
    if key >= 1 << 31:  # as a signed int4
        key -= 1 << 32
    s.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": _DOCUMENT_LOCK_NAMESPACE, "key": key})


def take_over(s: Any, kb_id: int, file_id: int, replaces: int | None, now: datetime) -> list[Replaced]:
    """Delete the versions below `file_id` (inside the transaction that marks it done)."""
    chain: list[Replaced] = []
    seen = {file_id}
    while replaces is not None and replaces not in seen:
        row = s.execute(
            select(File.id, File.sha256, File.replaces).where(File.id == replaces, File.kb_id == kb_id)
        ).first()
        if row is None:
            break
        seen.add(row[0])
        chain.append(Replaced(row[0], kb_id, row[1]))
        replaces = row[2]
    if not chain:
        return []
    ids = [r.file_id for r in chain]
    s.execute(delete(Chunk).where(Chunk.file_id.in_(ids)))
    s.execute(delete(Task).where(Task.file_id.in_(ids)))
    s.execute(delete(File).where(File.id.in_(ids)))
    s.execute(update(File).where(File.id == file_id).values(replaced_at=now))
    return chain
