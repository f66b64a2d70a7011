"""The doctor's check of stored objects outside every layout kb-server writes.

Uploads are `<sha256[:2]>/<sha256>`; a KB's objects are `<kb id>/segments[-<set>]/*.faiss` and
`<kb id>/keywords/*.json`, which the segment checks read. Anything else in a store — a file dropped
into the data dir's folders, the segment set of a deleted knowledge base — is stray, and `--repair`
deletes it (a set only after checking again that its knowledge base is still gone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from catalog.database import Database
from catalog.models import KnowledgeBase
from vectorstore.byte_store import ByteStore

UPLOAD_NAME = re.compile(r"([0-9a-f]{2})/\1[0-9a-f]{62}")
KB_OBJECT = re.compile(r"(\d+)/(?:segments(-\d+)?/[^/]+\.faiss|keywords/[^/]+\.json)")


@dataclass(frozen=True)
class Stray:
    store: ByteStore
    name: str
    reason: str
    kb_id: int | None = None  # the deleted knowledge base whose set it is


def stray_objects(uploads: ByteStore, kbs: ByteStore, kb_ids: set[int]) -> list[Stray]:
    """Objects of neither layout, and the non-live sets of knowledge bases not in `kb_ids`.

    Set 0 of a deleted knowledge base is left to the segment checks, which report each of its files.
    """
    found = [Stray(uploads, n, "not an upload name kb-server writes") for n in uploads.names("")]
    found = [s for s in found if not UPLOAD_NAME.fullmatch(s.name)]
    for name in kbs.names(""):
        match = KB_OBJECT.fullmatch(name)
        if match is None:
            found.append(Stray(kbs, name, "not a segment or keyword block name kb-server writes"))
        elif match[2] and int(match[1]) not in kb_ids:
            kb_id = int(match[1])
            found.append(Stray(kbs, name, f"a segment set of knowledge base {kb_id}, which does not exist", kb_id))
    return found


def delete_stray(db: Database, stray: Stray) -> str:
    if stray.kb_id is not None:
        with db.read() as s:
            if s.get(KnowledgeBase, stray.kb_id) is not None:
                return "kept: its knowledge base exists now"
    stray.store.delete(stray.name)
    return "deleted"
