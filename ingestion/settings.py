"""Ingestion settings: chunking, OCR, retries, leases and time limits."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator


class IngestionSettings(BaseModel):
    chunk_size: int = Field(default=750, ge=50, description="characters per chunk")
    chunk_overlap: int = Field(default=150, ge=0)
    cjk_char_weight: float = Field(
        default=3.0,
        ge=1.0,
        description="a CJK character counts this many times towards chunk_size (750 → 250 Chinese characters)",
    )
    title_enhance: bool = Field(
        default=False,
        description='treat short numbered lines ("1 概述", "第三章 系统配置") of untitled text as headings, as '
        "Chatchat's zh_title_enhance: they open a section, are repeated on its chunks and become their title",
    )
    ocr_enabled: bool = Field(default=True, description="OCR images and PDF pages without a usable text layer")
    ocr_languages: str = Field(default="eng+chi_sim", description="tesseract languages, joined by '+'")
    ocr_dpi: int = Field(
        default=200,
        ge=72,
        le=600,
        description="resolution PDF pages are rendered at for OCR; 200 reads English as well as 300, "
        "faster, and Chinese better (tesseract's chi_sim fails on characters over ~50 px)",
    )
    ocr_workers: int = Field(default=0, ge=0, description="pages read in parallel; 0 = one per CPU core")
    ocr_min_page_chars: int = Field(
        default=50, ge=0, description="a PDF page with fewer letters and digits than this in its text layer is OCR'd"
    )
    ocr_page_timeout_s: float = Field(default=120.0, gt=0, description="longest tesseract may take on one page")
    max_attempts: int = Field(default=3, ge=1, description="runs before a file fails as parse_crash")
    lease_s: float = Field(default=60.0, gt=0, description="a processing file's lease, renewed while alive")
    task_soft_time_limit_s: int = Field(
        default=1800, ge=10, description="a file still parsing after this fails as a timeout, with a reason"
    )
    task_time_limit_s: int = Field(
        default=1900, ge=10, description="the worker process is killed past this; must exceed the soft limit"
    )
    transient_retries: int = Field(default=5, ge=0)
    recovery_interval_s: float = Field(default=30.0, gt=0, description="how often lost work is looked for")
    unsent_grace_s: float = Field(
        default=30.0, gt=0, description="a queued row not yet sent to the broker is left alone this long"
    )
    stale_queued_s: float = Field(
        default=600.0,
        gt=0,
        description="queued this long with an empty broker queue: send again (a re-embed with no progress: check it)",
    )
    queue_name: str = "kb-ingest"
    max_task_memory_mb: int = Field(
        default=4096, ge=0, description="a worker process using more while ingesting a file fails it (0: no limit)"
    )
    keyword_tokenizer: Literal["auto", "simple"] = Field(
        default="auto", description="auto: jieba for Chinese, words for the rest; simple: no jieba"
    )

    @model_validator(mode="after")
    def _hard_limit_after_soft(self) -> Self:
        # With the hard limit first, a slow file kills its process instead of failing cleanly.
        if self.task_time_limit_s <= self.task_soft_time_limit_s:
            raise ValueError(
                f"task_time_limit_s ({self.task_time_limit_s}) must be greater than "
                f"task_soft_time_limit_s ({self.task_soft_time_limit_s})"
            )
        return self


StorageBackend = Literal["local", "database"]


class StorageSettings(BaseModel):
    """Where uploaded bytes, vector segments and keyword blocks are kept."""

    backend: StorageBackend = Field(
        default="local",
        description="local: files in the data dir (several hosts then share it); database: tables of the "
        "PostgreSQL catalog (database_url), so hosts share nothing on disk",
    )
    chunk_bytes: int = Field(
        default=1 << 20, ge=4096, le=64 << 20, description="database: bytes per stored row (1 MiB)"
    )
