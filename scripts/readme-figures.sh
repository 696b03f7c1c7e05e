#!/usr/bin/env bash
# Regenerates the README's figures (docs/figures/*.png) from real MNIST runs with a release build:
# `digits train --epochs 2` and `digits cluster --workers 2 --epochs 2`, their reports, and
# `digits data show --grid`. SVG charts become PNGs through headless Chromium (tests need it too:
# scripts/install-test-deps.sh). Usage: scripts/readme-figures.sh   (runs go to runs/readme-<time>-*)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DIGITS_BIN:-.build/release/digits}
[ -x "$BIN" ] || swift build -c release --product digits
CHROMIUM=${DIGITS_CHROMIUM:-/usr/bin/chromium}
RUN=runs/readme-$(date +%Y%m%d-%H%M%S)
FIG=docs/figures
mkdir -p "$FIG"
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT

"$BIN" train --epochs 2 --out "$RUN-train"
"$BIN" cluster --workers 2 --epochs 2 --out "$RUN-cluster"
"$BIN" report --run "$RUN-train"
"$BIN" report --run "$RUN-cluster"
"$BIN" data show --grid "$FIG/data-samples.png" --balance "$RUN-train/data-balance.svg" --grid-count 48

# svg2png SVG PNG: a screenshot of the SVG at its own size.
svg2png() {
  local w h
  w=$(grep -o '<svg[^>]*' "$1" | sed -E 's/.* width="([0-9.]+)".*/\1/' | cut -d. -f1)
  h=$(grep -o '<svg[^>]*' "$1" | sed -E 's/.* height="([0-9.]+)".*/\1/' | cut -d. -f1)
  "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$PROFILE" \
    --window-size="$w,$h" --screenshot="$2" "file://$PWD/$1" 2>/dev/null
}
svg2png "$RUN-train/data-balance.svg" "$FIG/data-balance.png"
svg2png "$RUN-train/report/figures/loss.svg" "$FIG/loss.png"
svg2png "$RUN-train/report/figures/accuracy.svg" "$FIG/accuracy.png"
svg2png "$RUN-train/report/figures/confusion.svg" "$FIG/confusion.png"
svg2png "$RUN-cluster/report/figures/workers.svg" "$FIG/workers.png"
cp "$RUN-train/report/figures/predictions.png" "$FIG/predictions.png"
cp "$RUN-train/report/figures/mistakes.png" "$FIG/mistakes.png"
ls -l "$FIG"
echo "runs: $RUN-train $RUN-cluster (reports in */report/index.html)"
