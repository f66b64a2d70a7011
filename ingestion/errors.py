"""Errors of ingestion (the catalog's own — NotFound, Conflict — live in `catalog.errors`).

    IngestionError
     ├── UnsupportedFile   a file type kb-server cannot read (rejected at upload)
     ├── DocumentError     a file that cannot be parsed: corrupt, encrypted, empty (no retry)
     └── TransientError    a passing fault (database busy, broker down): retried with backoff

Each carries a stable `code` that the API and the file status show.
"""


class IngestionError(Exception):
    code = "ingestion_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class UnsupportedFile(IngestionError):
    code = "unsupported_file_type"


class DocumentError(IngestionError):
    code = "parse_error"


class TransientError(IngestionError):
    code = "transient_error"
