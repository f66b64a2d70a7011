"""`kb-server doctor`: check that the catalog, the segments, the uploads and the broker agree.

The stored objects are checked where `storage.backend` keeps them: the data dir, or the catalog's
PostgreSQL (`database`); temp files are the host's own, in its data dir.

What is checked, and what `--repair` does about it:
- `PRAGMA integrity_check` of the SQLite catalog (not repairable here: restore a backup);
- each `done` file has a vector and a keyword segment with exactly its chunk ids (else re-ingest);
- no segment of a file that is gone, or that failed with other ids (delete). Segments of queued or
  processing files are left alone: a worker may be writing them, and search ignores them anyway;
- no chunk rows of missing files (delete); no bytes no file refers to, older than ten minutes,
  so an upload being registered is safe (delete); no waiting file whose bytes are gone (fail it
  as `upload_missing`, what its ingestion would end in); no temp file over an hour old (delete);
- no stored object outside the names kb-server writes, nor a segment set of a deleted knowledge
  base (delete);
- no stuck job: processing under an expired lease, queued but never sent, queued while the
  broker's queue is empty (as the API's sweeper: requeue, send if the broker answers, or fail as
  `parse_crash` after `ingestion.max_attempts` runs);
- the broker (`KB_BROKER_URL`, `KB_REDIS_URL`, or the embedded Redis named in `<data>/redis/url`)
  answers (a stale `url` file left by a killed `kb-server up` is removed; a configured broker is
  not ours to repair).
Findings are checked again against the catalog before they are reported or repaired: it can run live.
"""

from __future__ import annotations

from kb_server.cli.doctor_checks import DoctorChecks
from kb_server.cli.doctor_repairs import apply_repairs
from kb_server.cli.doctor_report import Report, print_report
from kb_server.settings import Settings


def run_doctor(settings: Settings, *, repair: bool = False) -> Report:
    """Check the catalog and the stored objects (and repair what can be); the report lists every finding."""
    checks = DoctorChecks(settings)
    try:
        report = checks.diagnose()
        return apply_repairs(report) if repair else report
    finally:
        checks.close()


def doctor_main(settings: Settings, *, repair: bool, as_json: bool) -> int:
    """Run the doctor and print its report; exit code 0 when consistent (or all was repaired)."""
    return print_report(run_doctor(settings, repair=repair), as_json=as_json)
