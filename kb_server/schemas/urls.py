"""Web pages: submitting URLs, following their crawl, and scheduling their refresh."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_serializer

from kb_server.schemas.common import UploadError, as_utc


class UrlSubmit(BaseModel):
    urls: list[str] = Field(min_length=1, description="http(s) URLs of pages (or, with `sitemap`, of sites)")
    depth: int = Field(default=0, ge=0, description="follow same-host links this many steps (at most `urls.max_depth`)")
    max_pages: int = Field(
        default=50, ge=1, description="pages fetched for the whole request (at most `urls.max_pages`)"
    )
    sitemap: bool = Field(
        default=False, description="read each URL's sitemap (the URL itself if it ends in .xml, else /sitemap.xml)"
    )
    refresh_s: int | None = Field(
        default=None,
        ge=0,
        description="fetch the pages again every this many seconds (at least `urls.min_refresh_s`), ingesting only "
        "those that changed, as new versions; 0: never; null: `urls.refresh_s` (off unless configured)",
    )


class UrlRefreshChange(BaseModel):
    refresh_s: int = Field(
        ge=0,
        description="fetch the pages again every this many seconds from now (at least `urls.min_refresh_s`); 0: never",
    )


class UrlAccepted(BaseModel):
    url: str = Field(description="as given")
    normalized: str | None = Field(default=None, description="the URL that is fetched (or the sitemap read)")
    status: Literal["accepted", "refused"]
    error: UploadError | None = Field(
        default=None, description="why it was refused: scheme, invalid_url, credentials, unresolvable, private_address"
    )


class UrlSubmitResult(BaseModel):
    request_id: str
    refresh_s: int | None = Field(description="how often its pages are fetched again (null: never)")
    urls: list[UrlAccepted]


class UrlPagePublic(BaseModel):
    url: str
    kind: Literal["page", "sitemap"]
    depth: int
    status: Literal["pending", "fetching", "fetched", "duplicate", "failed"]
    title: str | None
    file_id: int | None
    file_status: str | None = Field(description="the ingestion status of the page's file")
    chunks: int
    error_code: str | None
    error: str | None
    checked_at: datetime | None = Field(description="when the page was last asked of its site")
    next_refresh_at: datetime | None = Field(description="when it is fetched again (null: not scheduled)")

    @field_serializer("checked_at", "next_refresh_at")
    def _ser_optional_time(self, value: datetime | None) -> str | None:
        return as_utc(value).isoformat() if value is not None else None


class UrlRequestPublic(BaseModel):
    request_id: str
    state: Literal["running", "done"] = Field(
        description="done: every page fetched or failed, and every fetched page's file ingested or failed"
    )
    depth: int
    max_pages: int
    pages_taken: int
    refresh_s: int | None = Field(description="how often its pages are fetched again (null: never)")
    pages: list[UrlPagePublic]
