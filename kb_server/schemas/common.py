"""Bodies and limits shared by every resource of the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

# Catalog ids are 32-bit integers on PostgreSQL: a larger one names nothing, and is refused as invalid.
MAX_ID = 2**31 - 1


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ErrorBody(BaseModel):
    code: str
    detail: Any


class UploadError(BaseModel):
    code: str
    detail: str
