"""Ingestion tasks."""

from __future__ import annotations

from fastapi import APIRouter

from kb_server.api.deps import ServicesDep
from kb_server.schemas import ErrorBody, TaskPublic
from kb_server.services import tasks as task_service

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


@router.get("/{task_id}", response_model=TaskPublic, responses={404: {"model": ErrorBody}})
def read_task(task_id: str, services: ServicesDep) -> TaskPublic:
    """An ingestion task's state (PENDING, PROGRESS, SUCCESS, FAILURE, or REVOKED when a newer task
    replaced it) with its progress. Unknown ids are 404."""
    return task_service.read_task(services, task_id)
