#!/usr/bin/env bash
# The browser test drives Debian's chromium (never a browser downloaded by a test tool).
# Runs before `npm test`: installs the package when it is missing, as root or through sudo.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "==> /usr/bin/chromium is missing: installing Debian's chromium for the browser test"
run() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    echo "Installing chromium needs root: run 'apt-get install chromium' as root, then npm test." >&2
    exit 1
  fi
}
export DEBIAN_FRONTEND=noninteractive
run apt-get update -q
run apt-get install -y -q --no-install-recommends chromium
