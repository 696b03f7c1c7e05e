#!/usr/bin/env bash
# Creates (idempotently) the TensorFlow reference virtualenv used by
# scripts/bench/keras_reference.py and scripts/bench/compare.sh.
#
# The venv lives OUTSIDE the repository:
#   ${DIGITS_TF_VENV:-$HOME/.cache/digits/venv-tf}
#
# Versions are pinned: tensorflow-cpu==$TF_VERSION, and, when
# scripts/bench/tf-requirements.lock exists, the full resolved dependency set
# recorded there (pip freeze of a known-good install). Set DIGITS_TF_UNLOCKED=1
# to ignore the lock file and let pip resolve dependencies of the pinned TF.
#
# Usage: scripts/bench/setup-tf.sh [--force]   (--force recreates the venv)
set -euo pipefail

TF_VERSION="${TF_VERSION:-2.21.0}"
VENV="${DIGITS_TF_VENV:-$HOME/.cache/digits/venv-tf}"
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOCK="$HERE/tf-requirements.lock"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "setup-tf.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

installed_version() {
  # Prints the installed tensorflow-cpu version, or nothing.
  "$VENV/bin/python" - <<'PY' 2>/dev/null || true
from importlib.metadata import version, PackageNotFoundError
try:
    print(version("tensorflow-cpu"))
except PackageNotFoundError:
    pass
PY
}

if [[ $force -eq 1 && -d "$VENV" ]]; then
  echo "setup-tf.sh: removing $VENV (--force)"
  rm -rf -- "$VENV"
fi

if [[ -x "$VENV/bin/python" && "$(installed_version)" == "$TF_VERSION" ]]; then
  echo "setup-tf.sh: $VENV already has tensorflow-cpu $TF_VERSION; nothing to do"
else
  if [[ ! -x "$VENV/bin/python" ]]; then
    echo "setup-tf.sh: creating virtualenv at $VENV (with $("$PYTHON" --version 2>&1))"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  if [[ -f "$LOCK" && "${DIGITS_TF_UNLOCKED:-0}" != 1 ]]; then
    echo "setup-tf.sh: installing from $LOCK"
    "$VENV/bin/python" -m pip install --quiet -r "$LOCK"
  else
    echo "setup-tf.sh: installing tensorflow-cpu==$TF_VERSION (unlocked dependencies)"
    "$VENV/bin/python" -m pip install --quiet "tensorflow-cpu==$TF_VERSION"
  fi
fi

# Verifies the install (imports TensorFlow and Keras) in both paths.
"$VENV/bin/python" - <<'PY'
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy, tensorflow as tf, keras
print(f"setup-tf.sh: ok: tensorflow {tf.__version__}, keras {keras.__version__}, numpy {numpy.__version__}")
PY
echo "setup-tf.sh: venv python: $VENV/bin/python"
