"""Read a data dir's catalog and processes directly: no API needed, so it works while things are down."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from kb_server.cli.doctor import Report, run_doctor
from kb_server.settings import load_settings
from tests.support.inspect_data import chunk_report


@dataclass(frozen=True)
class FileState:
    id: int
    name: str
    status: str
    stage: str | None
    attempts: int
    error_code: str | None
    error: str | None


def file_states(data_dir: Path, kb: str | None = None) -> list[FileState]:
    """Every file of the catalog (or of one knowledge base); [] while the catalog does not exist."""
    path = data_dir / "kb.sqlite3"
    if not path.exists():
        return []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        sql = "SELECT f.id, f.name, f.status, f.stage, f.attempts, f.error_code, f.error FROM files f"
        args: tuple[str, ...] = ()
        if kb is not None:
            sql += " JOIN knowledge_bases k ON k.id = f.kb_id WHERE k.name = ?"
            args = (kb,)
        return [FileState(*row) for row in con.execute(sql + " ORDER BY f.id", args)]
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        con.close()


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not seen within {timeout_s:.0f} s")
        time.sleep(interval_s)


def pool_children(worker_pid: int) -> list[int]:
    """The prefork pool processes of a Celery worker (its direct children)."""
    try:
        return [p.pid for p in psutil.Process(worker_pid).children()]
    except psutil.NoSuchProcess:
        return []


@dataclass(frozen=True)
class ChunkTally:
    files: int
    consistent: int
    duplicates: int
    problems: dict[str, dict[str, int]]


def tally_chunks(data_dir: Path, kb: str) -> ChunkTally:
    """chunks == rows == distinct ordinals == vectors for every file; extra rows or vectors count as duplicates."""
    report = chunk_report(data_dir, kb)
    problems = {
        name: c for name, c in report.items() if not c["chunks"] == c["rows"] == c["ordinals"] == c["vectors"] >= 1
    }
    duplicates = sum(max(0, c["rows"] - c["ordinals"]) + max(0, c["vectors"] - c["ordinals"]) for c in report.values())
    return ChunkTally(len(report), len(report) - len(problems), duplicates, problems)


def doctor(data_dir: Path, redis_url: str | None = None, *, repair: bool = False) -> Report:
    """`kb-server doctor` on a data dir, in-process."""
    settings = load_settings(None, data_dir=data_dir)
    settings.redis_url = redis_url
    settings.database_url = None
    return run_doctor(settings, repair=repair)
