"""Ingestion settings: chunking, retries, leases and time limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class IngestionSettings(BaseModel):
    chunk_size: int = Field(default=750, ge=50, description="characters per chunk")
    chunk_overlap: int = Field(default=150, ge=0)
    max_attempts: int = Field(default=3, ge=1, description="runs before a file fails as parse_crash")
    lease_s: float = Field(default=60.0, gt=0, description="a processing file's lease, renewed while alive")
    task_soft_time_limit_s: int = Field(default=1800, ge=10)
    task_time_limit_s: int = Field(default=1900, ge=10)
    transient_retries: int = Field(default=5, ge=0)
    recovery_interval_s: float = Field(default=30.0, gt=0, description="how often lost work is looked for")
    stale_queued_s: float = Field(
        default=600.0, gt=0, description="queued this long with an empty broker queue: send again"
    )
    queue_name: str = "kb-ingest"
    keyword_tokenizer: Literal["auto", "simple"] = Field(
        default="auto", description="auto: jieba for Chinese, words for the rest; simple: no jieba"
    )
