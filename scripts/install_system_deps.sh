#!/usr/bin/env bash
# Installs the system packages genmedia's tests need (not Python packages: see bootstrap.sh).
# Today that is the PostgreSQL server (initdb, pg_ctl), which the record-store tests start on
# 127.0.0.1. Idempotent: installs Debian's `postgresql` with apt-get only when initdb is found
# neither on PATH nor in /usr/lib/postgresql/*/bin; uses sudo only when not root. Says what it did.
#   PG_BINDIR_GLOB  where to look besides PATH (default /usr/lib/postgresql/*/bin)
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

if initdb=$(find_initdb); then
  echo "install_system_deps: PostgreSQL server already installed ($initdb); nothing to do"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_deps: PostgreSQL server (initdb) not found and apt-get is not available;" \
       "install PostgreSQL >= 13 server binaries by hand" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_system_deps: not root and sudo is not available; cannot install postgresql" >&2
    exit 1
  fi
  SUDO=(sudo)
fi

echo "install_system_deps: PostgreSQL server not found; installing Debian package 'postgresql'"
export DEBIAN_FRONTEND=noninteractive
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql

if initdb=$(find_initdb); then
  echo "install_system_deps: installed postgresql ($initdb)"
else
  echo "install_system_deps: apt-get installed postgresql but initdb is still not found" \
       "(looked on PATH and in $PG_BINDIR_GLOB)" >&2
  exit 1
fi
