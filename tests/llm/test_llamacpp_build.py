"""Which llama.cpp build is loaded, and an AMX build loaded without extra buffer types (real SmolLM2)."""

from __future__ import annotations

import dataclasses

import pytest

import llm.llamacpp_backend as backend
from llm import LLMSettings
from llm.llamacpp_build import LlamaCppBuild, loaded_build, parse_features

# llama_print_system_info() of a GGML_NATIVE build on a Sapphire Rapids CPU (AMX) and of the generic one.
NATIVE_AMX = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 | "
)
GENERIC = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 | "
)


def _build(info: str) -> LlamaCppBuild:
    return LlamaCppBuild("0.3.36", info, parse_features(info))


@pytest.mark.unit
def test_generic_build_lists_its_instruction_sets_and_keeps_extra_buffer_types() -> None:
    build = _build(GENERIC)
    assert build.instruction_sets == ["SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2"]
    assert build.features["REPACK"] == "1"
    assert (build.amx, build.extra_buffer_types) == (False, True)


@pytest.mark.unit
def test_amx_build_is_loaded_without_extra_buffer_types() -> None:
    build = _build(NATIVE_AMX)
    assert {"AMX_INT8", "AVX512_VNNI"} <= set(build.instruction_sets)
    assert (build.amx, build.extra_buffer_types) == (True, False)
    assert build.to_dict()["extra_buffer_types"] is False


@pytest.mark.unit
def test_features_of_several_backends_are_merged() -> None:
    assert parse_features("CPU : AVX2 = 1 | \nBLAS : OPENBLAS = 1 | ") == {"AVX2": "1", "OPENBLAS": "1"}
    assert parse_features("") == {}


@pytest.mark.integration
def test_the_installed_build_reports_itself() -> None:
    build = loaded_build()
    assert build is not None
    assert build.system_info.startswith("CPU : ")
    assert "SSE3" in build.instruction_sets


@pytest.mark.integration
def test_an_amx_build_loads_the_model_without_extra_buffer_types_and_still_answers(
    bundled_gguf: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import llama_cpp.llama_cpp as lib

    installed = loaded_build()
    assert installed is not None
    amx = dataclasses.replace(installed, features={**installed.features, "AMX_INT8": "1"})
    monkeypatch.setattr(backend, "loaded_build", lambda: amx)
    default = lib.llama_model_default_params
    model = backend.LlamaCppLLM(LLMSettings(model_path=bundled_gguf, n_ctx=512, max_tokens=8, temperature=0.0))
    try:
        assert model.build.amx
        assert "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install" in caplog.text
        assert model._llama.model_params.use_extra_bufts is False
        assert lib.llama_model_default_params is default  # put back after the load
        assert lib.llama_model_default_params().use_extra_bufts is True
        assert model.generate([{"role": "user", "content": "What is the capital of France?"}]).text.strip()
    finally:
        model.close()
