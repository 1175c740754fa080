#!/usr/bin/env bash
# Validate every manifest in deploy/k8s against the Kubernetes API schemas, offline: the
# kubernetes-validate package (PyPI) carries the schemas of each Kubernetes version.
# Strict: an unknown field (a typo) fails too.
#
#   bash deploy/k8s/validate.sh            # Kubernetes 1.30 (the Job features used need ≥ 1.24)
#   K8S_VERSION=1.33.0 bash deploy/k8s/validate.sh
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/loginstorm-kubernetes-validate}
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'kubernetes-validate>=1.30'
fi
"$VENV/bin/kubernetes-validate" --strict -k "${K8S_VERSION:-1.30.0}" ./*.yaml
