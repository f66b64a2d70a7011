"""Settings of fetching web pages (`urls.*`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UrlSettings(BaseModel):
    allow_private: bool = Field(
        default=False,
        description="fetch from loopback, private, link-local and other non-public addresses too (SSRF guard off)",
    )
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, description="one fetched page; larger ones fail")
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=15.0, gt=0, description="longest wait for the next bytes of an answer")
    fetch_deadline_s: float = Field(default=60.0, gt=0, description="longest one page's whole download may take")
    max_redirects: int = Field(default=5, ge=0, description="each hop is checked by the guard and robots.txt")
    max_urls_per_request: int = Field(default=100, ge=1)
    max_depth: int = Field(default=3, ge=0, description="the deepest same-host crawl a request may ask for")
    max_pages: int = Field(default=1000, ge=1, description="the most pages one request may ask for")
    user_agent: str | None = Field(default=None, description="null: kb-server/<version>; robots.txt is read for it")
    refresh_s: int | None = Field(
        default=None, ge=0, description="re-fetch a request's pages this often unless it says (null or 0: never)"
    )
    min_refresh_s: int = Field(default=60, ge=1, description="the shortest refresh_s a request may ask for")
