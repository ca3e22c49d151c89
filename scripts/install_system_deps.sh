#!/usr/bin/env bash
# Installs the system packages genmedia's tests need (not Python packages: see bootstrap.sh;
# not Node tools: see install_node_tools.sh):
#   - the PostgreSQL server (initdb, pg_ctl), which the record-store tests start on 127.0.0.1;
#   - Prometheus (prometheus, promtool), which the metrics test starts on 127.0.0.1 and which
#     checks and unit-tests the alerting rules;
#   - espeak-ng, which speaks the speech clips of the audio watermark tests and benchmark.
# Idempotent: installs a Debian package with apt-get only when its binary is missing; uses sudo
# only when not root. Says what it did. The daemons are never started as system services.
#   PG_BINDIR_GLOB  where to look for initdb besides PATH (default /usr/lib/postgresql/*/bin)
set -euo pipefail

PG_BINDIR_GLOB=${PG_BINDIR_GLOB:-/usr/lib/postgresql/*/bin}

find_initdb() {
  local found dir
  if found=$(command -v initdb 2>/dev/null) && [ -n "$found" ]; then
    echo "$found"
    return 0
  fi
  # Newest version first; the glob stays literal (and is skipped) when nothing matches.
  for dir in $(ls -d $PG_BINDIR_GLOB 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir/initdb"
      return 0
    fi
  done
  return 1
}

find_prometheus() {
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1
}

missing=()
find_initdb >/dev/null || missing+=(postgresql)
find_prometheus || missing+=(prometheus)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_system_deps: PostgreSQL server ($(find_initdb)), Prometheus ($(command -v prometheus)) and" \
       "espeak-ng already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_deps: ${missing[*]} not found and apt-get is not available; install by hand" \
       "PostgreSQL >= 13 server binaries, Prometheus >= 2.40 (prometheus and promtool) and espeak-ng" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_system_deps: not root and sudo is not available; cannot install ${missing[*]}" >&2
    exit 1
  fi
  SUDO=(sudo)
fi

echo "install_system_deps: installing Debian packages: ${missing[*]}"
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

if ! initdb=$(find_initdb); then
  echo "install_system_deps: initdb is still not found (looked on PATH and in $PG_BINDIR_GLOB)" >&2
  exit 1
fi
if ! find_prometheus; then
  echo "install_system_deps: prometheus or promtool is still not found on PATH" >&2
  exit 1
fi
if ! command -v espeak-ng >/dev/null 2>&1; then
  echo "install_system_deps: espeak-ng is still not found on PATH" >&2
  exit 1
fi
echo "install_system_deps: PostgreSQL ($initdb) and Prometheus ($(prometheus --version 2>&1 | head -1)) ready"
