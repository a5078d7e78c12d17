#!/usr/bin/env bash
# The durable store's tests use a real PostgreSQL: by default postgres@127.0.0.1:5432, database
# `test` (WEBHOOKS_TEST_DATABASE_URL overrides it). Runs before `npm test`: starts a local
# cluster that is installed but down, and creates the `test` database when it is missing.
set -euo pipefail

if [ -n "${WEBHOOKS_TEST_DATABASE_URL:-}" ]; then
  exit 0
fi
run() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    return 1
  fi
}
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "==> PostgreSQL is down: starting the local cluster for the durable store's tests"
    run pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "The durable store's tests need PostgreSQL on 127.0.0.1:5432 (user postgres, database" >&2
  echo "test, no password), or WEBHOOKS_TEST_DATABASE_URL pointing at one." >&2
  echo "On Debian: apt-get install postgresql, then npm test again." >&2
  exit 1
fi
if ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
  echo "==> creating the database 'test' for the durable store's tests"
  createdb -h 127.0.0.1 -U postgres test
fi
