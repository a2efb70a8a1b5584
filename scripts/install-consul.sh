#!/usr/bin/env bash
# Installs a Consul agent binary into <repo>/.tools/consul for the integration tests.
#
# Debian bookworm has no consul package; bullseye has 1.8.x in main. fetch-debian-package.sh
# takes it from this machine's own apt mirror and unpacks it; nothing is installed system-wide.
#
# Idempotent: does nothing when the binary is already there and runs.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$REPO_ROOT/.tools/consul"
CONSUL="$DEST/usr/bin/consul"

if [[ -x "$CONSUL" ]] && "$CONSUL" version >/dev/null 2>&1; then
  "$CONSUL" version | head -n 1
  exit 0
fi

bash "$REPO_ROOT/scripts/fetch-debian-package.sh" bullseye consul "$DEST"

if ! "$CONSUL" version >/dev/null 2>&1; then
  echo "install-consul: $CONSUL does not run" >&2
  exit 1
fi
"$CONSUL" version | head -n 1
