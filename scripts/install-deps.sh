#!/usr/bin/env bash
# Installs the system libraries Digits links against (Debian/Ubuntu): OpenBLAS, libzmq, zlib, libhdf5 (Keras export), libturbojpeg (JPEG uploads to `digits serve`).
# Idempotent and quiet when everything is already there.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
apt_install libopenblas-dev libzmq3-dev zlib1g-dev libhdf5-dev libturbojpeg0-dev
