#!/usr/bin/env bash
# Installs an etcd server binary into <repo>/.tools/etcd for the integration tests.
#
# Debian bookworm ships etcd 3.4.x as package etcd-server. fetch-debian-package.sh takes it from
# this machine's own apt mirror and unpacks it (a single binary, usr/bin/etcd); nothing is
# installed or started system-wide.
#
# Idempotent: does nothing when the binary is already there and runs.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$REPO_ROOT/.tools/etcd"
ETCD="$DEST/usr/bin/etcd"

# The version is read whole before its first line is printed: `etcd --version | head -n 1` would
# end etcd with SIGPIPE, which pipefail turns into a failure.
version() { local text; text="$("$ETCD" --version 2>/dev/null)" || return 1; echo "${text%%$'\n'*}"; }

if [[ -x "$ETCD" ]] && version >/dev/null; then
  version
  exit 0
fi

bash "$REPO_ROOT/scripts/fetch-debian-package.sh" bookworm etcd-server "$DEST"

if ! version >/dev/null; then
  echo "install-etcd: $ETCD does not run" >&2
  exit 1
fi
version
