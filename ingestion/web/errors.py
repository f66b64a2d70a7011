"""Why a URL was not fetched: one error with a stable reason `code`.

IngestionError
 └── UrlRefused   scheme | invalid_url | credentials | unresolvable | private_address | robots |
                  too_large | timeout | unreachable | http_status | too_many_redirects |
                  unsupported_content
"""

from __future__ import annotations

from ingestion.errors import IngestionError


class UrlRefused(IngestionError):
    code = "url_refused"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)
