"""Where a model's weights come from: a local directory, or a hub name only when downloads are allowed."""

from __future__ import annotations

import os
from pathlib import Path


def local_or_allowed(model: str, allow_download: bool) -> str | None:
    """`model` as a local directory, or as a hub name when downloads are allowed; else None."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path)
    return model if allow_download else None


def keep_hub_offline(allow_download: bool) -> None:
    """Without downloads allowed, make transformers fail fast instead of reaching for the hub."""
    if not allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
