"""Cancelling ingestion: one file, or every pending file of a knowledge base.

The catalog's conditional UPDATE is the cancellation (catalog/cancellation.py): a queued file is
never started, a running one stops at its next stage boundary. What an earlier run committed
leaves with the same paths as a delete: chunk rows in that transaction, then segment and keyword
files here. Revoking the Celery messages only saves the workers a claim that would find nothing.
"""

from __future__ import annotations

import logging

from catalog import cancellation, repository
from catalog.cancellation import CancelledFile
from catalog.models import File
from kb_server.runtime.container import Services
from kb_server.services.reembed import after_file_left

log = logging.getLogger(__name__)

DEFAULT_REASON = "cancelled on request"


def cancel_file(services: Services, kb_name: str, file_id: int, reason: str | None = None) -> File:
    """Cancel a queued or processing file; a cancelled one is returned as it is.

    Raises:
        NotFound: no such knowledge base or file.
        NotCancellable: the file is done or failed.
    """
    kb = repository.get_kb(services.db, kb_name)
    cancelled = cancellation.cancel_file(services.db, kb.id, file_id, _reason(reason))
    if cancelled is not None:
        _clean_up(services, kb.id, [cancelled])
    return repository.get_file(services.db, kb.id, file_id)


def cancel_pending(
    services: Services, kb_name: str, reason: str | None = None, file_ids: list[int] | None = None
) -> list[int]:
    """Cancel the knowledge base's queued or processing files (only `file_ids`, if given); returns their ids.

    Raises:
        NotFound: no such knowledge base.
    """
    kb = repository.get_kb(services.db, kb_name)
    cancelled = cancellation.cancel_pending(services.db, kb.id, _reason(reason), file_ids)
    _clean_up(services, kb.id, cancelled)
    return [c.file_id for c in cancelled]


def _reason(given: str | None) -> str:
    # Shown as the file's error: one printable line (PostgreSQL refuses NUL in text).
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in given or "").split())
    return text or DEFAULT_REASON


def _clean_up(services: Services, kb_id: int, cancelled: list[CancelledFile]) -> None:
    for c in cancelled:
        services.segments.delete(kb_id, c.file_id)
        services.keywords.delete(kb_id, c.file_id)
    if cancelled:
        after_file_left(services, kb_id)
    task_ids = [c.task_id for c in cancelled if c.task_id]
    if task_ids:
        try:
            services.celery.control.revoke(task_ids)
        except Exception as exc:  # the catalog already decided; a worker that gets the message skips it
            log.warning("cancelled %s file(s) but could not revoke their tasks: %s", len(task_ids), exc)
