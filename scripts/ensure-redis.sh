#!/usr/bin/env bash
# The receiving side's dedupe tests use a real Redis: by default 127.0.0.1:6379
# (WEBHOOKS_TEST_REDIS_URL overrides it). Runs before `npm test`: starts a local redis-server
# that is installed but down (no persistence, loopback only).
set -euo pipefail

if [ -n "${WEBHOOKS_TEST_REDIS_URL:-}" ]; then
  exit 0
fi
up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
if ! up && command -v redis-server >/dev/null 2>&1; then
  echo "==> Redis is down: starting a local redis-server for the receiving side's tests"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "${TMPDIR:-/tmp}" --logfile "${TMPDIR:-/tmp}/nestjs-webhooks-redis.log" || true
  for _ in $(seq 1 30); do up && break; sleep 1; done
fi
if ! up; then
  echo "The receiving side's tests need Redis on 127.0.0.1:6379, or WEBHOOKS_TEST_REDIS_URL" >&2
  echo "pointing at one. On Debian: apt-get install redis-server, then npm test again." >&2
  exit 1
fi
