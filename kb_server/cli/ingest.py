"""`kb-server ingest`: send local files to a running server and follow them until each is ingested.

Three phases, each with its progress: hashing (every file's sha256, compared with the `sha256` of
the KB's files so that what is already there is never sent again), uploading (batches of at most
`--batch` files and BATCH_BYTES), processing (polling the KB's files until every one sent is done
or failed). Interrupting it loses nothing: the server keeps what arrived, and the same command run
again skips it. On Ctrl-C it offers to cancel the files it queued that are not ingested yet (on a
terminal it asks; otherwise it prints the `kb-server files cancel` command); the same command run
again later sends cancelled files once more.

Exit codes: 0 when every file ended done, duplicate or already in the KB (and not failed there);
1 when any failed, was rejected or was cancelled, or the server refused a request; 2 on a usage or connection
error; 130 when interrupted.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from kb_server.cli.api_client import BUSY, ApiClient, ServerError, Unreachable, UploadPart, format_detail
from kb_server.cli.ingest_cancel import offer_cancel
from kb_server.cli.ingest_plan import PlanError, batches, collect, sha256_of
from kb_server.cli.ingest_report import Entry, show_summary, summary
from kb_server.cli.terminal import Display, Phase, display_for

SETTLED = ("done", "failed", "cancelled")
BATCH_BYTES = 32 << 20
POLL_S = 1.0


@dataclass
class IngestOptions:
    kb: str
    paths: list[Path]
    recursive: bool = False
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    create: bool = False
    batch: int = 20
    as_json: bool = False
    on_existing_name: str = "replace"  # | keep_both: see the README's "New versions"


class UsageError(Exception):
    """The command cannot run as given (e.g. no such knowledge base, and no --create)."""


def run_ingest(
    client: ApiClient,
    options: IngestOptions,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    stdin: TextIO = sys.stdin,
) -> int:
    display = display_for(err if options.as_json else out)
    client.on_wait = lambda why, seconds: display.note(f"{why}: waiting {seconds:.0f} s")
    job = IngestJob(client, options, display)
    try:
        entries = job.run()
    except (PlanError, UsageError, Unreachable) as exc:
        print(f"kb-server: {exc}", file=err)
        return 2
    except ServerError as exc:
        print(f"kb-server: {exc}", file=err)
        return 2 if exc.status in BUSY else 1
    except KeyboardInterrupt:
        print("kb-server: interrupted; the server keeps what it received: run the same command to resume", file=err)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: leave at once
            offer_cancel(client, options.kb, job.pending_ids(), err, stdin)
        return 130
    if options.as_json:
        out.write(json.dumps(summary(options.kb, client.base_url, entries), indent=2) + "\n")
    else:
        show_summary(display, entries)
    return 0 if all(e.ok for e in entries) else 1


class IngestJob:
    """The phases of one run; `kb-server sync` reuses its KB check, upload and follow phases."""

    def __init__(self, client: ApiClient, options: IngestOptions, display: Display, *, keep_path: bool = False) -> None:
        self.client, self.options, self.display = client, options, display
        self.keep_path = keep_path
        self.kb = options.kb
        self.entries: list[Entry] = []

    def run(self) -> list[Entry]:
        o = self.options
        files = collect(o.paths, recursive=o.recursive, include=o.include, exclude=o.exclude)
        self.ensure_kb()
        entries = self.entries = [Entry(f) for f in files]
        for e in entries:
            if not e.local.supported:
                e.settle("skipped", reason=f"{e.local.path.suffix or 'no extension'}: not a supported type")
                self.display.note(f"skipped {e.local.path} ({e.reason})")
        to_send = self._hash_and_match([e for e in entries if e.outcome == "pending"])
        if to_send:
            self.upload(to_send)
        elif entries:
            self.display.note("nothing to upload")
        self.follow([e for e in entries if e.file_id is not None and e.status not in SETTLED])
        for e in entries:
            if e.twin is not None:
                e.file_id, e.status, e.chunks = e.twin.file_id, e.twin.status, e.twin.chunks
        return entries

    def pending_ids(self) -> list[int]:
        """Files this run queued that had not settled when it stopped."""
        return [e.file_id for e in self.entries if e.outcome == "queued" and e.file_id is not None]

    def ensure_kb(self) -> None:
        try:
            self.client.get_kb(self.kb)
        except ServerError as exc:
            if exc.status != 404:
                raise
            if not self.options.create:
                raise UsageError(f"{exc} (add --create to create it)") from exc
            try:
                self.client.create_kb(self.kb)
                self.display.note(f"created knowledge base {self.kb}")
            except ServerError as conflict:
                if conflict.status != 409:
                    raise

    def _hash_and_match(self, candidates: list[Entry]) -> list[Entry]:
        """Hash each file; settle those already in the KB or sent under another name; the rest to send."""
        remote = {f["sha256"]: f for f in self.client.list_files(self.kb)}
        hashed = 0
        with self.display.phase("hashing", sum(e.local.size for e in candidates), "bytes") as phase:

            def on_bytes(n: int) -> None:
                nonlocal hashed
                hashed += n
                phase.update(hashed)

            for e in candidates:
                try:
                    e.sha256 = sha256_of(e.local.path, on_bytes)
                except OSError as exc:
                    e.settle("failed", "unreadable", exc.strerror or str(exc))
        first: dict[str, Entry] = {}
        to_send = []
        for e in candidates:
            if e.sha256 is None:
                continue
            if e.sha256 in remote and remote[e.sha256]["status"] != "cancelled":  # a cancelled file is sent again
                f = remote[e.sha256]
                e.outcome, e.file_id, e.status, e.chunks = "already", f["file_id"], f["status"], f["chunks"]
                e.code, e.reason = f.get("error_code"), f.get("error")
            elif e.sha256 in first:
                e.twin = first[e.sha256]
                e.settle("duplicate", reason=f"same bytes as {e.twin.local.path}")
            else:
                first[e.sha256] = e
                to_send.append(e)
        already = sum(e.outcome == "already" for e in candidates)
        if already:
            self.display.note(f"{already} of {len(candidates)} files already in the KB: not sent again")
        return to_send

    def upload(self, to_send: list[Entry]) -> None:
        self.display.note(f"uploading {len(to_send)} files to {self.kb} at {self.client.base_url}")
        with self.display.phase("uploading", sum(e.local.size for e in to_send), "bytes") as phase:
            progress = _UploadProgress(phase, len(to_send))
            # Local files sharing a name (a/README.md, b/README.md) are different documents: the
            # server only sees the name, so they go as keep_both, never as versions of each other.
            names = Counter(e.upload_name for e in self.entries if e.outcome != "skipped")
            shared = [e for e in to_send if names[e.upload_name] > 1]
            single = [e for e in to_send if names[e.upload_name] <= 1]
            for part, option in ((single, self.options.on_existing_name), (shared, "keep_both")):
                for group in batches(part, lambda e: e.local.size, self.options.batch, BATCH_BYTES):
                    self._send(group, progress, option)
                    progress.answered(len(group))

    def _send(self, group: list[Entry], progress: _UploadProgress, on_existing_name: str) -> None:
        streams: list[tuple[Entry, _ReportingFile]] = []
        refused: ServerError | None = None
        try:
            for e in group:
                try:
                    streams.append((e, _ReportingFile(e.local.path, e, progress.read)))
                except OSError as exc:
                    e.settle("failed", "unreadable", exc.strerror or str(exc))
            if not streams:
                return
            parts: list[UploadPart] = [(e.upload_name, s) for e, s in streams]
            results = self.client.upload(self.kb, parts, on_existing_name, keep_path=self.keep_path)
        except ServerError as exc:
            refused = exc
        finally:
            for _, stream in streams:
                stream.close()
        if refused is not None:
            self._refused([e for e, _ in streams], refused, progress, on_existing_name)
            return
        for (e, _), r in zip(streams, results, strict=True):
            e.sha256 = r.get("sha256") or e.sha256
            e.file_id = r.get("file_id")
            if r["status"] == "queued":
                e.outcome, e.status = "queued", "queued"
                e.version, e.replaces = r.get("version"), r.get("replaces")
            elif r["status"] == "duplicate":
                e.settle("duplicate", reason=f"same bytes as file {e.file_id} already in the KB")
            else:
                error = r.get("error") or {}
                e.settle("rejected", error.get("code"), error.get("detail"))

    def _refused(self, group: list[Entry], exc: ServerError, progress: _UploadProgress, option: str) -> None:
        """A whole request refused: split it to find the culprits, or settle its files with the reason."""
        too_big = exc.status == 413 or (exc.status == 400 and exc.code == "too_many_files")
        if len(group) > 1 and too_big:
            half = len(group) // 2
            self._send(group[:half], progress, option)
            self._send(group[half:], progress, option)
        elif len(group) > 1 and exc.status == 415:  # every file rejected: ask one by one for the reasons
            for e in group:
                self._send([e], progress, option)
        elif exc.status in BUSY or exc.status in (401, 403, 404):
            raise exc
        else:
            outcome = "rejected" if exc.status == 415 else "failed"
            for e in group:
                e.settle(outcome, exc.code, format_detail(exc.detail))

    def follow(self, tracked: list[Entry]) -> None:
        """Poll the KB's files until every tracked one is done, failed or cancelled."""
        if not tracked:
            return
        with self.display.phase("processing", len(tracked), "files") as phase:
            while True:
                by_id = {f["file_id"]: f for f in self.client.list_files(self.kb)}
                current = []
                for e in tracked:
                    f = by_id.get(e.file_id)
                    if f is None:
                        e.status, e.code, e.reason = "failed", "file_not_found", "deleted from the KB while ingesting"
                    else:
                        e.status, e.chunks = f["status"], f["chunks"]
                        if f["status"] in ("failed", "cancelled"):
                            e.code, e.reason = f.get("error_code"), f.get("error")
                        elif f["status"] == "processing":
                            current.append(f"{f['name']}: {f['stage'] or 'starting'} {f['progress']:.0%}")
                    if e.outcome == "queued" and e.status in SETTLED:
                        e.outcome = e.status
                states = Counter(e.status for e in tracked)
                settled = sum(states[s] for s in SETTLED)
                pending = len(tracked) - settled
                info = f"done {states['done']} · failed {states['failed']} · pending {pending}"
                if states["cancelled"]:
                    info += f" · cancelled {states['cancelled']}"
                if current:
                    info += f" · {current[0]}" + (f" (+{len(current) - 1})" if len(current) > 1 else "")
                phase.update(settled, info)
                if not pending:
                    return
                time.sleep(POLL_S)


class _UploadProgress:
    """Bytes sent (a file sent again after a refused request counts once) and requests answered."""

    def __init__(self, phase: Phase, files: int) -> None:
        self.phase, self.files = phase, files
        self.furthest: dict[Entry, int] = {}
        self.sent = self.done = 0

    def read(self, e: Entry, position: int) -> None:
        before = self.furthest.get(e, 0)
        if position > before:
            self.furthest[e] = position
            self.sent += position - before
            self._show()

    def answered(self, n: int) -> None:
        self.done += n
        self._show()

    def _show(self) -> None:
        self.phase.update(self.sent, f"{self.done}/{self.files} files")


class _ReportingFile(io.FileIO):
    """A file that reports how far it has been read (httpx streams multipart parts by `read`)."""

    def __init__(self, path: Path, entry: Entry, on_read: Callable[[Entry, int], None]) -> None:
        super().__init__(path, "rb")
        self._entry, self._on_read = entry, on_read

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self._on_read(self._entry, self.tell())
        return data
