#!/usr/bin/env bash
# Unpacks one Debian package into a folder of the project, without installing anything system-wide.
#
#   bash scripts/fetch-debian-package.sh <suite> <package> <destination>
#
# The package is fetched with apt-get download through a private sources list pointing at the
# mirror this machine's own apt sources already use (read at run time, so no host name lives in
# the repository), with private list and cache directories so the system's apt state is left
# exactly as it was. The .deb is then unpacked with dpkg -x into <destination>, replacing it.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 <suite> <package> <destination>" >&2
  exit 2
fi
SUITE="$1"
PACKAGE="$2"
DEST="$3"
NAME="fetch-debian-package($PACKAGE)"

for tool in apt-get dpkg; do
  command -v "$tool" >/dev/null || { echo "$NAME: $tool is required (Debian/Ubuntu host)" >&2; exit 1; }
done

# The first URI of a non-security, non-updates Debian source: that is the main archive mirror.
find_mirror() {
  local file
  shopt -s nullglob
  for file in /etc/apt/sources.list.d/*.sources; do
    # deb822 stanzas are separated by blank lines; take URIs from a stanza whose Suites include a
    # plain release (no "-security"/"-updates"/"-backports" suffix).
    awk '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; plain = 0; enabled = 1; debtype = 0
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[[:space:]]*#/) continue
          if (line ~ /^URIs:/) { sub(/^URIs:[[:space:]]*/, "", line); uris = line }
          if (line ~ /^Types:/ && line ~ /(^|[[:space:]])deb([[:space:]]|$)/) debtype = 1
          if (line ~ /^Enabled:[[:space:]]*no/) enabled = 0
          if (line ~ /^Suites:/) {
            sub(/^Suites:[[:space:]]*/, "", line)
            n = split(line, suites, /[[:space:]]+/)
            for (j = 1; j <= n; j++) if (suites[j] != "" && suites[j] !~ /-(security|updates|backports)$/ && suites[j] !~ /\//) plain = 1
          }
        }
        if (enabled && debtype && plain && uris != "") { split(uris, u, /[[:space:]]+/); print u[1]; exit }
      }' "$file"
  done
  if [[ -f /etc/apt/sources.list ]]; then
    # deb [options] URI suite components…
    awk '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) !~ /-(security|updates|backports)$/ && $(i + 1) !~ /\//) { print $i; exit }
      }' /etc/apt/sources.list
  fi
}

MIRROR="$(find_mirror | head -n 1)"
if [[ -z "$MIRROR" ]]; then
  echo "$NAME: found no Debian archive URI in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
  exit 1
fi

# The archive keyring holds every release's signing keys; the suite-specific one is a fallback
# for systems that ship only per-release keyrings.
KEYRING=""
for candidate in /usr/share/keyrings/debian-archive-keyring.gpg "/usr/share/keyrings/debian-archive-$SUITE-stable.gpg"; do
  if [[ -f "$candidate" ]]; then KEYRING="$candidate"; break; fi
done
if [[ -z "$KEYRING" ]]; then
  echo "$NAME: no Debian archive keyring in /usr/share/keyrings (package debian-archive-keyring)" >&2
  exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/download"

cat >"$WORK/sources.list" <<SOURCES
deb [signed-by=$KEYRING] $MIRROR $SUITE main
SOURCES

APT_OPTS=(
  -o "Dir::Etc::SourceList=$WORK/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$WORK/lists"
  -o "Dir::Cache=$WORK/cache"
  # The private directories belong to the invoking user, so the _apt sandbox user could not write
  # to them; downloading as the invoking user keeps apt from warning and falling back by itself.
  -o "APT::Sandbox::User=$(id -un)"
  -o "Acquire::Languages=none"
)

echo "$NAME: fetching $PACKAGE from the $SUITE suite of this machine's apt mirror"
apt-get "${APT_OPTS[@]}" -qq update
(cd "$WORK/download" && apt-get "${APT_OPTS[@]}" -qq download "$PACKAGE")

DEB="$(find "$WORK/download" -maxdepth 1 -name "${PACKAGE}_*.deb" | head -n 1)"
if [[ -z "$DEB" ]]; then
  echo "$NAME: apt-get download produced no ${PACKAGE}_*.deb" >&2
  exit 1
fi

rm -rf "$DEST"
mkdir -p "$DEST"
dpkg -x "$DEB" "$DEST"
