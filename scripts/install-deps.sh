#!/usr/bin/env bash
# Installs the system libraries Digits links against (Debian/Ubuntu): OpenBLAS, libzmq, zlib, libhdf5 (Keras export), libturbojpeg (JPEG uploads to `digits serve`).
# Idempotent and quiet when everything is already there.
set -euo pipefail
need=()
for pkg in libopenblas-dev libzmq3-dev zlib1g-dev libhdf5-dev libturbojpeg0-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
