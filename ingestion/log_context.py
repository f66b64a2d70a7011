"""The task and file an ingestion log line is about, added to every record of the task."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

_task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
_file_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("file_id", default=None)


@contextmanager
def ingestion_context(task_id: str | None, file_id: int) -> Iterator[None]:
    t1, t2 = _task_id.set(task_id), _file_id.set(file_id)
    try:
        yield
    finally:
        _task_id.reset(t1)
        _file_id.reset(t2)


class IngestionContextFilter(logging.Filter):
    """Puts `task_id` and `file_id` on every record logged while a task runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        task_id, file_id = _task_id.get(), _file_id.get()
        if task_id is not None:
            record.task_id = task_id
        if file_id is not None:
            record.file_id = file_id
        return True
