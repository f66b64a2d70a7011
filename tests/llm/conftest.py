"""Fixtures shared by the llm tests: the real bundled SmolLM2 model, nothing mocked."""

from __future__ import annotations

import os

import pytest

from llm.llamacpp_backend import bundled_model_path


@pytest.fixture(scope="session")
def bundled_gguf() -> str:
    path = bundled_model_path()
    assert os.path.isfile(path), f"bundled model missing: {path}"
    return path
