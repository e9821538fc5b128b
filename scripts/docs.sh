#!/usr/bin/env bash
# Set up .venv (with the test and docs extras), then build the Sphinx site into docs/_build/html.
# Every warning fails the build; -E re-reads every page so a re-run reports all warnings again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh test,docs
"${XFER_VENV:-.venv}/bin/python" -m sphinx -E -W --keep-going -b html docs docs/_build/html "$@"
