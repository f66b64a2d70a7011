"""Read a data dir's catalog and processes directly: no API needed, so it works while things are down."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from kb_server.cli.doctor import Report, run_doctor
from kb_server.settings import load_settings
from tests.support.inspect_data import chunk_report
from tests.support.processes import REPO, base_env
from vectorstore import SegmentStore


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


def tally_chunks(
    data_dir: Path, kb: str, database_url: str | None = None, segments: SegmentStore | None = None
) -> ChunkTally:
    """chunks == rows == distinct ordinals == vectors for every file; extra rows or vectors count as duplicates."""
    report = chunk_report(data_dir, kb, database_url, segments)
    problems = {
        name: c for name, c in report.items() if not c["chunks"] == c["rows"] == c["ordinals"] == c["vectors"] >= 1
    }
    duplicates = sum(max(0, c["rows"] - c["ordinals"]) + max(0, c["vectors"] - c["ordinals"]) for c in report.values())
    return ChunkTally(len(report), len(report) - len(problems), duplicates, problems)


def doctor(
    data_dir: Path,
    redis_url: str | None = None,
    *,
    repair: bool = False,
    broker_url: str | None = None,
    queue_name: str | None = None,
) -> Report:
    """`kb-server doctor` on a data dir, in-process."""
    settings = load_settings(None, data_dir=data_dir)
    settings.redis_url = redis_url
    settings.broker_url = broker_url
    settings.database_url = None
    if queue_name:
        settings.ingestion.queue_name = queue_name
    return run_doctor(settings, repair=repair)


def doctor_cli(
    data_dir: Path, *flags: str, env_dir: Path | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """`kb-server doctor --data-dir data_dir *flags` as a user runs it, in a child process.

    Its environment is made for `env_dir` (the data dir by default), which that creates: pass an
    existing one when the data dir must stay missing.
    """
    return subprocess.run(
        [sys.executable, "-m", "kb_server", "doctor", "--data-dir", str(data_dir), *flags],
        env=base_env(env_dir or data_dir),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
