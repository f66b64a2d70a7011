"""What `kb-server sync` does to bring a knowledge base in step with a folder, decided from the local
files' sha256 and the KB's listing alone (no I/O here, so it is tested on its own).

A local file is named in the KB by its path relative to the folder (`notes/a.md`). Per name:
    unchanged    the KB has a file of that name with these bytes: nothing is sent
    duplicate    the KB (or an earlier local file) has these bytes under another name: nothing is
                 sent, as the server would answer `duplicate`
    new_version  the name is in the KB with other bytes: sent, it replaces the old version
    add          the name is not in the KB: sent
    delete       (only with `delete`) a KB file whose name no local file has, within the scope
                 synced; files fetched from a URL are never deleted
A file moved within the folder keeps its bytes: with `delete` its old name is deleted first, so its
new name is sent rather than found `duplicate` of a name about to go. A cancelled file counts as
absent (sending its bytes again queues it again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from ingestion.filetypes import SUPPORTED_EXTENSIONS
from ingestion.registration import display_name

Action = Literal["add", "new_version", "unchanged", "duplicate", "delete"]
# Editor swap files, partial downloads, backups; Office's lock files are `~$name.docx`.
TEMP_SUFFIXES = (".swp", ".swo", ".swx", ".part", ".partial", ".crdownload", ".download", ".tmp", "~")
TEMP_PREFIXES = ("~$", ".~lock.")


def ignored(rel: str) -> bool:
    """Hidden (any part of the path starts with `.`) or a temporary file: never synced."""
    parts = rel.split("/")
    name = parts[-1].lower()
    return any(p.startswith(".") for p in parts) or name.startswith(TEMP_PREFIXES) or name.endswith(TEMP_SUFFIXES)


def supported(rel: str) -> bool:
    return PurePosixPath(rel).suffix.lower() in SUPPORTED_EXTENSIONS


def kb_name(rel: str) -> str:
    """The name the server gives a file sent under `rel` with `keep_path` (so the two compare equal)."""
    return display_name(rel, keep_path=True)


@dataclass(frozen=True)
class RemoteFile:
    file_id: int
    name: str
    sha256: str
    status: str
    source_url: str | None = None

    @classmethod
    def of(cls, listed: dict[str, Any]) -> RemoteFile:
        """From an entry of `GET /api/kbs/{kb}/files`."""
        return cls(listed["file_id"], listed["name"], listed["sha256"], listed["status"], listed.get("source_url"))


@dataclass(frozen=True)
class Step:
    action: Action
    name: str  # in the KB
    rel: str | None = None  # the local file (None for a delete)
    sha256: str | None = None
    file: RemoteFile | None = None  # unchanged: the matching file; duplicate: the one with these bytes;
    # delete: the file to delete
    twin: str | None = None  # duplicate of an earlier local file: its name


def plan_sync(
    local: Sequence[tuple[str, str]],
    remote: Sequence[RemoteFile],
    *,
    delete: bool,
    in_scope: Callable[[str], bool],
) -> list[Step]:
    """The steps, deletes first, for local files `(rel, sha256)` against the KB's files `remote`.

    `in_scope(name)` says whether a KB file's name is one this sync looks after (a sync without
    --recursive leaves names with a `/` alone; a watch event only the paths it names).
    """
    live = [f for f in remote if f.status != "cancelled"]
    by_name: dict[str, list[RemoteFile]] = {}
    for f in live:
        by_name.setdefault(f.name, []).append(f)
    names = {kb_name(rel) for rel, _ in local}
    gone = [f for f in remote if delete and f.source_url is None and f.name not in names and in_scope(f.name)]
    gone_ids = {f.file_id for f in gone}
    by_sha = {f.sha256: f for f in live if f.file_id not in gone_ids}
    steps = [Step("delete", f.name, sha256=f.sha256, file=f) for f in gone]
    first: dict[str, str] = {}  # sha256 -> the name of the first local file with those bytes
    for rel, sha in local:
        name = kb_name(rel)
        same_name = by_name.get(name, [])
        match = next((f for f in same_name if f.sha256 == sha), None)
        if match is not None:
            steps.append(Step("unchanged", name, rel, sha, match))
        elif sha in first:
            steps.append(Step("duplicate", name, rel, sha, twin=first[sha]))
        elif sha in by_sha:
            steps.append(Step("duplicate", name, rel, sha, by_sha[sha]))
        else:
            steps.append(Step("new_version" if same_name else "add", name, rel, sha))
        first.setdefault(sha, name)
    return steps
