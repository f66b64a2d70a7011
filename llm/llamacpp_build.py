"""Which llama.cpp build llama-cpp-python loaded: its instruction sets, and whether it has AMX kernels.

A build made with llama.cpp's default ``GGML_NATIVE=ON`` (what a plain ``pip install`` of
llama-cpp-python compiles) on a CPU with AMX puts the weights in ggml's AMX buffer type, whose
matrix multiply (``ggml_backend_amx_mul_mat``) segfaulted in chat. That kernel is reached
only through the CPU backend's *extra* buffer types, so such a build is loaded with them off
(``use_extra_bufts``), which also turns off weight repacking. ``scripts/install.sh`` never builds AMX.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# ggml's names for SIMD extensions in llama_print_system_info(); the rest (OPENMP, REPACK, ...) are not.
_INSTRUCTION_SETS = (
    "SSE3",
    "SSSE3",
    "AVX",
    "AVX_VNNI",
    "AVX2",
    "F16C",
    "FMA",
    "BMI2",
    "AVX512",
    "AVX512_VBMI",
    "AVX512_VNNI",
    "AVX512_BF16",
    "AMX_INT8",
    "NEON",
    "ARM_FMA",
    "FP16_VA",
    "MATMUL_INT8",
    "SVE",
    "DOTPROD",
    "SME",
    "RISCV_V",
    "VSX",
    "VXE",
    "WASM_SIMD",
)
_PATCH_LOCK = threading.Lock()


@dataclass(frozen=True)
class LlamaCppBuild:
    version: str
    system_info: str  # llama_print_system_info(), e.g. "CPU : SSE3 = 1 | AVX2 = 1 | ... | REPACK = 1 | "
    features: dict[str, str]

    @property
    def instruction_sets(self) -> list[str]:
        return [name for name in self.features if name in _INSTRUCTION_SETS and self.features[name] != "0"]

    @property
    def amx(self) -> bool:
        return self.features.get("AMX_INT8", "0") != "0"

    @property
    def extra_buffer_types(self) -> bool:
        """Whether kb-server loads models with llama.cpp's extra buffer types (off for AMX builds)."""
        return not self.amx

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "instruction_sets": self.instruction_sets,
            "amx": self.amx,
            "extra_buffer_types": self.extra_buffer_types,
            "system_info": self.system_info,
        }


def parse_features(system_info: str) -> dict[str, str]:
    """``"CPU : AVX2 = 1 | REPACK = 1 | "`` -> ``{"AVX2": "1", "REPACK": "1"}`` (every backend's, merged)."""
    features: dict[str, str] = {}
    for line in system_info.splitlines():
        _, _, listed = line.rpartition(" : ")
        for item in listed.split("|"):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                features[name.strip()] = value.strip()
    return features


def loaded_build() -> LlamaCppBuild | None:
    """The llama.cpp build this process loads; None when llama-cpp-python is not installed.

    Imports ``llama_cpp`` (loads its shared library, well under a second) but loads no model.
    """
    try:
        import llama_cpp
    except ImportError:
        return None
    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    return LlamaCppBuild(llama_cpp.__version__, info, parse_features(info))


@contextmanager
def model_params_for(build: LlamaCppBuild) -> Iterator[None]:
    """Within it, ``llama_cpp.Llama(...)`` loads with the model parameters ``build`` needs.

    The ``Llama`` constructor exposes no ``use_extra_bufts``; it starts from
    ``llama_model_default_params()``, so that is what is swapped for the duration of the load.
    """
    if build.extra_buffer_types:
        yield
        return
    import llama_cpp.llama_cpp as lib

    with _PATCH_LOCK:
        default = lib.llama_model_default_params

        def without_extra_bufts() -> Any:
            params = default()
            params.use_extra_bufts = False
            return params

        lib.llama_model_default_params = without_extra_bufts
        try:
            yield
        finally:
            lib.llama_model_default_params = default
