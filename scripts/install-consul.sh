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

# The version is read whole before its first line is printed: `consul version | head -n 1` can
# end consul with SIGPIPE, which pipefail turns into a failure of the whole test run.
version() { local text; text="$("$CONSUL" version 2>/dev/null)" || return 1; echo "${text%%$'\n'*}"; }

if [[ -x "$CONSUL" ]] && version >/dev/null; then
  version
  exit 0
fi

bash "$REPO_ROOT/scripts/fetch-debian-package.sh" bullseye consul "$DEST"

if ! version >/dev/null; then
  echo "install-consul: $CONSUL does not run" >&2
  exit 1
fi
version
