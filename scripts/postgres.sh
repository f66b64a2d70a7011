#!/usr/bin/env bash
# The catalog tests also run on PostgreSQL: make sure the machine's server answers, starting
# (or installing) it if needed. KB_TEST_POSTGRES_URL points the tests at another server.
set -euo pipefail
url="${KB_TEST_POSTGRES_URL:-postgresql://root@127.0.0.1:5432/test}"
if .venv/bin/python -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$url" 2>/dev/null; then
  exit 0
fi
if [ -n "${KB_TEST_POSTGRES_URL:-}" ]; then
  echo "PostgreSQL at KB_TEST_POSTGRES_URL does not answer" >&2; exit 1
fi
if ! command -v pg_ctlcluster >/dev/null; then
  echo "installing PostgreSQL (Debian package)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version="$(ls /etc/postgresql | sort -V | tail -1)"
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
for _ in $(seq 30); do
  if su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 1
done
# Trust-authenticated local role and database for the tests (what the CI machines provide).
su postgres -c "psql -qAtc \"select 1 from pg_roles where rolname='root'\"" | grep -q 1 \
  || su postgres -c "psql -qc 'create role root superuser login'"
su postgres -c "psql -qAtc \"select 1 from pg_database where datname='test'\"" | grep -q 1 \
  || su postgres -c "psql -qc 'create database test owner root'"
.venv/bin/python -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=5).close()" "$url"
