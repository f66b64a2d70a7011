"""Errors raised by the API layer itself (domain errors live in each package's `errors.py`).

ApiError
 ├── InvalidInput         400: a request the schema cannot express as invalid
 ├── PayloadTooLarge      413
 ├── TooManyRequests      429 (Retry-After)
 └── ServiceUnavailable   503: Redis, the worker or a model is not there (Retry-After)
"""

from __future__ import annotations


class ApiError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, detail: str, *, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
        if code:
            self.code = code


class InvalidInput(ApiError):
    status_code = 400
    code = "invalid_input"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


class TooManyRequests(ApiError):
    status_code = 429
    code = "too_many_requests"


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "service_unavailable"
