"""Errors raised by the ``llm`` package.

One small tree, so callers (the HTTP layer, Celery tasks) can map failures
without knowing which backend is configured::

    LLMError
    ├── LLMNotInstalled      the ``kb-server[llm]`` extra or a model's packages are missing (an ImportError)
    ├── LLMUnavailable       model file missing or not the pinned one, LLM server down or timed out
    ├── LLMBusy              no generation slot freed up within the queue timeout
    └── LLMGenerationError   the backend was reached but could not produce an answer
"""

from __future__ import annotations


class LLMError(Exception):
    """Base class of every error raised by the ``llm`` package."""


class LLMNotInstalled(LLMError, ImportError):
    """An optional dependency of a backend is not installed.

    Also an ``ImportError``, so generic "optional feature missing" handling works.
    """

    def __init__(self, package: str, extra: str = "llm", *, advice: str | None = None) -> None:
        advice = advice or f"install the extra: pip install 'kb-server[{extra}]'"
        super().__init__(f"{package} is not installed; {advice}")
        self.package = package
        self.extra = extra


class LLMUnavailable(LLMError):
    """The model cannot be reached: its file is missing or its server is down."""


class LLMBusy(LLMError):
    """Every generation slot stayed taken for longer than ``queue_timeout_s``."""


class LLMGenerationError(LLMError):
    """The backend answered with an error (HTTP error, context overflow, ...)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
