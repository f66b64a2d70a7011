"""`kb-server sync DIR --kb K`: keep a knowledge base in step with a folder.

Each supported file is named in the KB by its path relative to DIR (`notes/a.md`); hidden and
temporary files are left out. A pass hashes the files, compares them with the KB's listing
(sync_plan.py), deletes what vanished (only with --delete), sends new files and, as new versions,
changed ones (through `kb-server ingest`'s upload and follow phases), and waits until they are
ingested. A name whose bytes the server already has is never sent again, so a run that was
interrupted is simply run again. With --watch it then follows the folder's filesystem events
(sync_watch.py), one pass per batch of quiet paths, until Ctrl-C, and prints the summary of all
its passes.

Exit codes: 0 when nothing failed; 1 when a file failed, was rejected or cancelled, or the server
refused a request; 2 on a usage or connection error; 130 when a sync without --watch is
interrupted (a watch stopped by Ctrl-C ends 0 or 1, by what it did).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from kb_server.cli.api_client import BUSY, ApiClient, ClientError, ServerError, Unreachable
from kb_server.cli.ingest import SETTLED, IngestJob, IngestOptions, UsageError
from kb_server.cli.ingest_plan import LocalFile, PlanError, collect, sha256_of
from kb_server.cli.ingest_report import Entry
from kb_server.cli.sync_plan import RemoteFile, Step, ignored, kb_name, plan_sync, supported
from kb_server.cli.sync_report import SyncTally
from kb_server.cli.sync_watch import Changes
from kb_server.cli.terminal import Display, display_for

RETRY_S = 5.0  # a watch pass that could not reach the server is tried again after this


@dataclass
class SyncOptions:
    kb: str
    directory: Path
    recursive: bool = False
    delete: bool = False
    watch: bool = False
    create: bool = False
    batch: int = 20
    debounce_s: float = 1.0
    as_json: bool = False


def run_sync(client: ApiClient, options: SyncOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    display = display_for(err if options.as_json else out)
    client.on_wait = lambda why, seconds: display.note(f"{why}: waiting {seconds:.0f} s")
    sync = FolderSync(client, options, display)
    code: int | None = None
    try:
        if not options.directory.is_dir():
            raise PlanError(f"{options.directory}: not a directory")
        sync.job.ensure_kb()
        sync.run_pass(None)
        if options.watch:
            sync.watch()
    except (PlanError, UsageError, Unreachable) as exc:
        print(f"kb-server: {exc}", file=err)
        return 2
    except ServerError as exc:
        print(f"kb-server: {exc}", file=err)
        code = 2 if exc.status in BUSY else 1
    except KeyboardInterrupt:
        print("kb-server: interrupted; the server keeps what it received: run the same command to resume", file=err)
        code = 130
    if options.as_json:
        out.write(json.dumps(sync.tally.public(options.kb, client.base_url, str(options.directory)), indent=2) + "\n")
    else:
        sync.tally.show(display)
    if code is not None:
        return code
    return 0 if sync.tally.ok else 1


class FolderSync:
    def __init__(self, client: ApiClient, options: SyncOptions, display: Display) -> None:
        self.client, self.options, self.display = client, options, display
        ingest = IngestOptions(kb=options.kb, paths=[options.directory], batch=options.batch, create=options.create)
        self.job = IngestJob(client, ingest, display, keep_path=True)
        self.tally = SyncTally()
        self.root = options.directory
        self.passes = 0

    def watched(self, rel: str) -> bool:
        """Whether a path (relative to the folder) is one this sync sends."""
        return (self.options.recursive or "/" not in rel) and not ignored(rel) and supported(rel)

    def watch(self) -> None:
        from kb_server.cli.sync_watch import FolderWatch

        o = self.options
        with FolderWatch(self.root, recursive=o.recursive, quiet_s=o.debounce_s, watched=self.watched) as events:
            self.display.note(f"watching {self.root} for changes (Ctrl-C to stop)")
            try:
                while True:
                    changes = events.quiet(timeout_s=1.0)
                    if not changes:
                        continue
                    try:
                        self.run_pass(None if changes.rescan else changes)
                    except ClientError as exc:  # the server restarting, say: keep watching
                        self.display.note(f"kb-server: {exc}; trying again in {RETRY_S:.0f} s")
                        events.retry(changes, RETRY_S)
            except KeyboardInterrupt:
                self.display.note("stopped watching")

    def run_pass(self, changes: Changes | None) -> None:
        """Bring the KB in step with the folder: all of it, or only the paths that changed."""
        hashed, unreadable = self._hash(self._local(changes))
        remote = [RemoteFile.of(f) for f in self.client.list_files(self.options.kb)]
        local = [(f.rel, sha) for f, sha in hashed]
        steps = plan_sync(local, remote, delete=self.options.delete, in_scope=self._scope(changes, unreadable))
        self._delete([s for s in steps if s.action == "delete"])
        files = {f.rel: f for f, _ in hashed}
        self._send([s for s in steps if s.action != "delete"], files, first=self.passes == 0)
        self.passes += 1

    def _local(self, changes: Changes | None) -> list[LocalFile]:
        if changes is None:
            files = []
            for f in collect([self.root], recursive=self.options.recursive):
                if ignored(f.rel):
                    continue
                if supported(f.rel):
                    files.append(f)
                elif self.passes == 0:  # a watch's rescans do not count them again
                    self.tally.add("skipped", f.rel, reason=f"{f.path.suffix or 'no extension'}: not a supported type")
            return files
        found = []
        for rel in sorted(changes.paths):
            path = self.root / rel
            try:
                if path.is_file():
                    found.append(LocalFile(path, rel, path.stat().st_size))
            except OSError:
                continue  # gone again meanwhile: as if deleted
        return found

    def _hash(self, files: list[LocalFile]) -> tuple[list[tuple[LocalFile, str]], set[str]]:
        hashed: list[tuple[LocalFile, str]] = []
        unreadable: set[str] = set()
        done = 0
        with self.display.phase("hashing", sum(f.size for f in files), "bytes") as phase:

            def on_bytes(n: int) -> None:
                nonlocal done
                done += n
                phase.update(done)

            for f in files:
                try:
                    hashed.append((f, sha256_of(f.path, on_bytes)))
                except FileNotFoundError:
                    continue  # deleted since it was listed: its event (or the next run) deletes it
                except OSError as exc:
                    unreadable.add(kb_name(f.rel))  # not to be taken for deleted
                    self.tally.add("failed", f.rel, reason=f"unreadable: {exc.strerror or exc}")
        return hashed, unreadable

    def _scope(self, changes: Changes | None, unreadable: set[str]) -> Callable[[str], bool]:
        if changes is not None:
            names = {kb_name(rel) for rel in changes.paths} - unreadable
            return names.__contains__
        recursive = self.options.recursive
        return lambda name: (recursive or "/" not in name) and name not in unreadable

    def _delete(self, steps: list[Step]) -> None:
        deleted: set[str] = set()
        for s in steps:
            assert s.file is not None
            try:
                self.client.delete_file(self.options.kb, s.file.file_id)
            except ServerError as exc:
                if exc.status != 404:  # already gone is what was wanted
                    raise
            if s.name not in deleted:  # every version of the name goes; it counts once
                deleted.add(s.name)
                self.tally.add("deleted", s.name, s.file.file_id)
                self.display.note(f"deleted {s.name}")

    def _send(self, steps: list[Step], files: dict[str, LocalFile], *, first: bool) -> None:
        """Upload the new and changed files, then follow them (and unchanged ones still being
        ingested) until done. The first pass counts the unchanged files; a watch's later passes
        name each file they send."""
        sent: list[tuple[Step, Entry]] = []
        followed: list[tuple[Step, Entry]] = []
        for s in steps:
            assert s.rel is not None
            e = Entry(files[s.rel], sha256=s.sha256, name=s.name)
            if s.action in ("add", "new_version"):
                sent.append((s, e))
            elif s.action == "unchanged" and s.file is not None:
                e.outcome, e.file_id, e.status = "already", s.file.file_id, s.file.status
                followed.append((s, e))
            elif s.action == "duplicate":
                other = s.twin or (s.file.name if s.file else "")
                self.tally.add("duplicate", s.name, s.file.file_id if s.file else None, f"same bytes as {other}")
        try:
            if sent:
                self.job.entries = [e for _, e in sent]
                self.job.upload(self.job.entries)
            self.job.follow([e for _, e in sent + followed if e.file_id is not None and e.status not in SETTLED])
        finally:  # interrupted too: what was sent is reported
            for s, e in followed:
                if e.status == "failed":
                    self.tally.add("failed", s.name, e.file_id, f"unchanged, failed in the KB: {_reason(e)}")
                elif first:
                    self.tally.add("unchanged", s.name, e.file_id)
            for s, e in sent:
                self._record_sent(s, e, verbose=not first)

    def _record_sent(self, s: Step, e: Entry, *, verbose: bool) -> None:
        label = "added" if s.action == "add" else "new_version"
        if e.outcome == "pending":
            return  # interrupted before it was sent
        if e.outcome in ("done", "queued"):
            self.tally.add(label, s.name, e.file_id, "" if e.outcome == "done" else "still being ingested")
            if verbose:
                self.display.note(f"{'added' if s.action == 'add' else 'new version of'} {s.name}")
        elif e.outcome == "duplicate":
            self.tally.add("duplicate", s.name, e.file_id, e.reason or "")
        else:
            kept = "; the old version still serves" if s.action == "new_version" else ""
            self.tally.add("failed", s.name, e.file_id, f"{e.outcome}: {_reason(e)}{kept}")
            self.display.note(f"failed {s.name}: {_reason(e)}")


def _reason(e: Entry) -> str:
    return f"{e.code}: {e.reason}" if e.code and e.reason else e.reason or e.code or "unknown"
