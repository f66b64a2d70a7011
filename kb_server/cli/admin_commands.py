"""`kb-server kb ls|create|rm` and `kb-server files ls|cancel`: a running server's knowledge bases and files.

Each prints a table, or with `--json` the server's objects. A server error prints
`kb-server: code: detail` and exits 1; no answer at all exits 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from kb_server.cli.api_client import ApiClient, ServerError, Unreachable
from kb_server.cli.terminal import display_for, human_bytes, is_tty

FILE_STATUSES = ("queued", "processing", "done", "failed", "cancelled")


def guarded(action: Callable[[], int], err: TextIO = sys.stderr) -> int:
    try:
        return action()
    except ServerError as exc:
        print(f"kb-server: {exc}", file=err)
        return 1
    except Unreachable as exc:
        print(f"kb-server: {exc}", file=err)
        return 2


def _dump(value: Any, out: TextIO) -> int:
    out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    return 0


def list_kbs(client: ApiClient, as_json: bool, out: TextIO = sys.stdout) -> int:
    kbs = client.list_kbs()
    if as_json:
        return _dump({"kbs": kbs}, out)
    if not kbs:
        out.write("no knowledge bases\n")
        return 0
    rows = [(k["name"], k["files"], k["chunks"], _preset(k), k["created_at"][:10], k["description"]) for k in kbs]
    display_for(out).table("", ["name", "files", "chunks", "embedder", "created", "description"], rows)
    return 0


def _preset(kb: dict[str, Any]) -> str:
    """The KB's embedding preset, or its embedder's name when no preset of the server's made it."""
    return str(kb.get("embedding_preset") or kb["embedder"].split("|", 1)[0])


def create_kb(
    client: ApiClient,
    name: str,
    description: str,
    as_json: bool,
    preset: str | None = None,
    out: TextIO = sys.stdout,
) -> int:
    kb = client.create_kb(name, description, preset)
    if as_json:
        return _dump(kb, out)
    out.write(f"created knowledge base {kb['name']} (embedder {_preset(kb)}, {kb['dim']} dimensions)\n")
    return 0


def delete_kb(
    client: ApiClient,
    name: str,
    yes: bool,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    stdin: TextIO = sys.stdin,
) -> int:
    kb = client.get_kb(name)
    if not yes:
        if not is_tty(stdin):
            print(f"kb-server: not deleting {name} without --yes (no terminal to confirm on)", file=err)
            return 2
        err.write(f"Delete knowledge base {name} with its {kb['files']} files and {kb['chunks']} chunks? [y/N] ")
        err.flush()
        if stdin.readline().strip().lower() not in ("y", "yes"):
            print("kb-server: not deleted", file=err)
            return 1
    client.delete_kb(name)
    if as_json:
        return _dump({"deleted": name, "files": kb["files"], "chunks": kb["chunks"]}, out)
    out.write(f"deleted knowledge base {name} ({kb['files']} files, {kb['chunks']} chunks)\n")
    return 0


def list_files(client: ApiClient, kb: str, status: str | None, as_json: bool, out: TextIO = sys.stdout) -> int:
    files = [f for f in client.list_files(kb) if status is None or f["status"] == status]
    if as_json:
        return _dump({"files": files}, out)
    if not files:
        out.write(f"no {status + ' ' if status else ''}files in {kb}\n")
        return 0
    rows = [
        (f["file_id"], f["name"], _status(f), f["chunks"], human_bytes(f["size"]), _error(f))
        for f in sorted(files, key=lambda f: f["file_id"])
    ]
    display_for(out).table("", ["id", "name", "status", "chunks", "size", "error"], rows)
    return 0


def cancel_files(
    client: ApiClient,
    kb: str,
    file_ids: list[int],
    every: bool,
    reason: str | None,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Cancel the files named, or with `every` all pending ones; exit 1 if a named one was not cancelled."""
    if bool(file_ids) == every:
        print("kb-server: name the files to cancel, or give --all (not both)", file=err)
        return 2
    cancelled = client.cancel_pending(kb, reason, None if every else file_ids)
    left = sorted(set(file_ids) - set(cancelled))
    if as_json:
        _dump({"cancelled": cancelled, "not_cancelled": left}, out)
    else:
        out.write(f"cancelled {len(cancelled)} file{'' if len(cancelled) == 1 else 's'} in {kb}\n")
        if left:
            out.write(f"not cancelled (done, failed, already cancelled or not in {kb}): {' '.join(map(str, left))}\n")
    return 1 if left else 0


def _status(f: dict[str, Any]) -> str:
    if f["status"] == "processing":
        return f"processing: {f['stage'] or 'starting'} {f['progress']:.0%}"
    return str(f["status"])


def _error(f: dict[str, Any]) -> str:
    if not f.get("error"):
        return ""
    return f"{f['error_code']}: {f['error']}" if f.get("error_code") else str(f["error"])
