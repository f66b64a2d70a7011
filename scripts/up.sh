#!/usr/bin/env bash
# Install (first run only) and start kb-server: embedded Redis, a worker and the API.
# Arguments go to `kb-server up` (e.g. --port 8077 --data-dir ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
scripts/install.sh all
exec .venv/bin/kb-server up "$@"
