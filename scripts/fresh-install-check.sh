#!/usr/bin/env bash
# What a new user does: `pip install 'kb-server[all]'` into a fresh venv (no scripts/install.sh),
# then `kb-server up`, one upload and one question. Prints the answer; exit 0 when it answered.
#   scripts/fresh-install-check.sh [SOURCE]   (SOURCE: this checkout by default, or a wheel/sdist)
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE="${1:-$PWD}"
WORK="$(mktemp -d /tmp/kb-fresh-XXXXXX)"
PORT="${PORT:-8199}"
trap 'kill -TERM "${UP:-0}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
python3 -m venv "$WORK/venv"
started=$(date +%s)
"$WORK/venv/bin/pip" install --quiet "$SOURCE[all]"
echo "installed in $(( $(date +%s) - started )) s"
"$WORK/venv/bin/kb-server" up --data-dir "$WORK/data" --port "$PORT" > "$WORK/up.log" 2>&1 &
UP=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break; sleep 2; done
curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null || { tail -30 "$WORK/up.log"; exit 1; }
"$WORK/venv/bin/kb-server" models --data-dir "$WORK/data" > "$WORK/models.txt"
head -4 "$WORK/models.txt"
api() { curl -sf "$@"; }
api -X POST "http://127.0.0.1:$PORT/api/kbs" -H 'content-type: application/json' -d '{"name":"faq"}' > /dev/null
printf 'Python releases\n\nA new minor version of Python is released about once every 12 months.\n' > "$WORK/releases.md"
api -F "files=@$WORK/releases.md" "http://127.0.0.1:$PORT/api/kbs/faq/files" > /dev/null
for _ in $(seq 1 120); do
  api "http://127.0.0.1:$PORT/api/kbs/faq/files" | grep -q '"status":"done"' && break
  sleep 1
done
answer=$(api -X POST "http://127.0.0.1:$PORT/api/chat" -H 'content-type: application/json' \
  -d '{"kb":"faq","question":"How often does a new Python version come out?"}')
echo "$answer" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["answer"]); print("mode", d["mode"], "refused", d["refused"], "fallback", d["fallback"]); sys.exit(0 if d["mode"] == "generate" and not d["refused"] else 1)'
