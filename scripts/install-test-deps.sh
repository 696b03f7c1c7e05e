#!/usr/bin/env bash
# What the tests need beyond the build: headless Chromium (Debian's chromium) for the web pages, curl and wrk (HTTP client and load generator of the serve tests),
# and a Python virtualenv outside the repository with the real consumers of exported files
# (onnxruntime, h5py, tensorboard, prometheus_client, Keras 3 on JAX for keras.models.load_model), and
# Fashion-MNIST (dataset-fashion-mnist, for the --dataset test). Idempotent and quiet when already there.
# The virtualenv lives at $DIGITS_PYENV (default ~/.cache/digits/venv-py); tests find its python
# there, or through $DIGITS_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
apt_install chromium fonts-dejavu-core curl wrk dataset-fashion-mnist
PYENV="${DIGITS_PYENV:-${XDG_CACHE_HOME:-$HOME/.cache}/digits/venv-py}"
LOCK=scripts/py-requirements.txt
STAMP="$PYENV/.digits-lock-sha256"
want=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [ ! -x "$PYENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "creating python environment for tests at $PYENV"
  python3 -m venv "$PYENV"  # an existing environment is kept: pip adds what the lock file gained
  "$PYENV/bin/pip" install -q --disable-pip-version-check -r "$LOCK"
  echo "$want" > "$STAMP"
fi
