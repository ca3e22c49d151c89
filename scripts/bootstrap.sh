#!/usr/bin/env bash
# Creates .venv and installs genmedia with its test tools. Idempotent: reinstalls only when
# pyproject.toml changed. torch goes first, pinned: `torch==2.13.0` takes the CPU build where
# one is offered, and any looser requirement would pull several GB of CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: genmedia needs Python 3.11 or newer (found $("$PYTHON" --version))" >&2
  exit 1
fi
# System packages the tests need (PostgreSQL, Prometheus) and the Node tools that check deploy/
# (tsc with Grafana's schema, helm); each a no-op when already present.
bash scripts/install_system_deps.sh
bash scripts/install_node_tools.sh

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

stamp=.venv/.genmedia-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -m pip install --quiet torch==2.13.0 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -m pip install --quiet -e ".[test]" 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import torch, ray, diffusers, genmedia, c2pa, sqlalchemy, psycopg, onnxruntime, cv2" # fail here, not mid-test, if an install broke
  echo "$want" > "$stamp"
fi
