"""Task status, told from the catalog (the record) in Celery's vocabulary of states."""

from __future__ import annotations

from catalog import repository
from catalog.models import FileStatus
from kb_server.runtime.container import Services
from kb_server.schemas import TaskProgress, TaskPublic

_STATE_OF_FILE = {
    FileStatus.QUEUED: "PENDING",
    FileStatus.PROCESSING: "PROGRESS",
    FileStatus.DONE: "SUCCESS",
    FileStatus.FAILED: "FAILURE",
    FileStatus.CANCELLED: "REVOKED",
}


def read_task(services: Services, task_id: str) -> TaskPublic:
    """Raises: NotFound for an id kb-server never handed out."""
    task, file = repository.get_task(services.db, task_id)
    current = file.task_id == task.id
    if current:
        state = _STATE_OF_FILE.get(file.status, "PENDING")
    else:
        state = task.state if task.state in ("SUCCESS", "FAILURE") else "REVOKED"
    progress = TaskProgress(
        current=file.progress_current if current else 0,
        total=file.progress_total if current else 0,
        stage=file.stage if current else None,
    )
    result = {"file_id": file.id, "chunks": file.chunks} if state == "SUCCESS" else None
    error = (file.error if current else task.error) if state == "FAILURE" else None
    return TaskPublic(task_id=task.id, file_id=file.id, state=state, progress=progress, result=result, error=error)
