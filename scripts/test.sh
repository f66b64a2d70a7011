#!/usr/bin/env bash
# Install everything the tests need, then lint, type-check and run the whole suite.
# Arguments go to pytest (e.g. -m "not slow", -k search).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh --test
scripts/install.sh all,test
scripts/postgres.sh
scripts/rabbitmq.sh
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
