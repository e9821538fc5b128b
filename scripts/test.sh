#!/usr/bin/env bash
# Set up .venv, then run the whole test suite (slow tests included) with pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh test
"${XFER_VENV:-.venv}/bin/python" -m pytest tests "$@"
