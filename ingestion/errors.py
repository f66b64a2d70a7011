"""Errors of ingestion (the catalog's own — NotFound, Conflict — live in `catalog.errors`).

    IngestionError
     ├── UnsupportedFile   a file type kb-server cannot read (rejected at upload)
     ├── DocumentError     a file that cannot be parsed: corrupt, encrypted, empty (no retry)
     ├── TransientError    a passing fault (database busy, broker down): retried with backoff
     └── LeaseLost         the run's lease was taken away: the run stops writing

Each carries a stable `code` that the API and the file status show.
"""

from catalog.errors import CodedError


class IngestionError(CodedError):
    code = "ingestion_error"


class UnsupportedFile(IngestionError):
    code = "unsupported_file_type"


class DocumentError(IngestionError):
    code = "parse_error"


class TransientError(IngestionError):
    code = "transient_error"


class LeaseLost(IngestionError):
    """The run's lease was lost (file deleted, re-queued or taken over): it must stop writing."""

    code = "lease_lost"


def transient_faults() -> tuple[type[BaseException], ...]:
    """Faults that pass (a busy or restarting database, a broker hiccup): retried, not counted."""
    from sqlalchemy.exc import OperationalError

    return (OperationalError, TransientError, ConnectionError)
