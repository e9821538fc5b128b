#!/usr/bin/env bash
# Set up .venv, then run the quick-start demo on the shipped source model and real data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh demo
"${XFER_VENV:-.venv}/bin/python" demos/quickstart.py "$@"
