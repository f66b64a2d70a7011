"""Ingestion tasks, as Celery reports them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class TaskProgress(BaseModel):
    current: int
    total: int
    stage: str | None


class TaskPublic(BaseModel):
    task_id: str
    file_id: int
    state: str
    progress: TaskProgress
    result: dict[str, Any] | None = None
    error: str | None = None
