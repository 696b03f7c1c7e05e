#!/usr/bin/env bash
# Old binary against new, side by side in one run: `digits bench` (1 thread) and a one-epoch
# `digits cluster --workers 2` on full MNIST, for keras-example and pytorch-example. The two binaries
# alternate within every round (ABBA), so a noisy spell of a shared host hits both alike.
#   scripts/bench/old-vs-new.sh --old PATH [--new PATH] [--rounds N] [--quick]
#     --old PATH   the binary to compare against (e.g. a release build of the previous commit)
#     --new PATH   default .build/release/digits
#     --rounds N   default 3 (median per side)
#     --quick      1 round, 5 bench steps, cluster on a 4,000-image subset (checks the script works)
# Prints one row per measurement: median images/s old and new and their ratio (new / old).
set -euo pipefail
source "$(dirname "$0")/common.sh"
OLD="" NEW=".build/release/digits" ROUNDS=3 QUICK=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --old) OLD="$2"; shift 2 ;;
    --new) NEW="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --quick) QUICK=1; ROUNDS=1; shift ;;
    -h|--help) sed -n 2,10p "$BENCH_SCRIPT"; exit 0 ;;
    *) echo "old-vs-new: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
for b in "$OLD" "$NEW"; do
  [[ -n "$b" && -x "$b" ]] || { echo "old-vs-new: '$b' is not an executable (give --old PATH and --new PATH)" >&2; exit 1; }
done
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
DATA=$("$NEW" data show 2>/dev/null | sed -n 's/^data: \([^ ]*\) .*/\1/p' | head -1)
[[ -n "$DATA" ]] || { echo "old-vs-new: no MNIST found (digits data show)" >&2; exit 1; }
STEPS=30
if [[ $QUICK -eq 1 ]]; then
  STEPS=5
  python3 scripts/lib/mnist-subset.py "$DATA" "$WORK/data" 4000 1000
  DATA="$WORK/data"
fi

bench() {  # BIN MODEL -> images/s
  "$1" bench --model "$2" --steps "$STEPS" --sgemm-seconds 0 --data "$DATA" --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_second"])'
}
cluster() {  # BIN MODEL -> training images/s of one epoch
  local out="$WORK/run-$RANDOM$RANDOM"
  "$1" cluster --workers 2 --model "$2" --epochs 1 --no-early-stopping --data "$DATA" --out "$out" --status-bind off \
    > "$out.log" 2>&1 || { tail -20 "$out.log" >&2; exit 1; }
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["train_images_per_second"])' "$out/summary.json"
}

: > "$WORK/rows.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
  order=("$OLD" "$NEW"); [[ $((r % 2)) -eq 0 ]] && order=("$NEW" "$OLD")
  for model in keras-example pytorch-example; do
    for kind in bench cluster; do
      for b in "${order[@]}" ; do
        side=old; [[ "$b" == "$NEW" ]] && side=new
        v=$($kind "$b" "$model")
        printf '%s\t%s\t%s\t%s\n' "$kind" "$model" "$side" "$v" >> "$WORK/rows.tsv"
        echo "round $r: $kind $model $side $v images/s" >&2
      done
    done
  done
done
python3 - "$WORK/rows.tsv" "$ROUNDS" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print(f"old vs new, median of {sys.argv[2]} round(s), images/s")
print(f"{'measurement':40s} {'old':>10s} {'new':>10s} {'new/old':>8s}")
for kind in ("bench", "cluster"):
    for model in ("keras-example", "pytorch-example"):
        v = {s: statistics.median(float(r[3]) for r in rows if r[:3] == [kind, model, s]) for s in ("old", "new")}
        label = f"{'digits bench (1 thread)' if kind == 'bench' else 'digits cluster --workers 2, 1 epoch'} {model}"
        print(f"{label:40s} {v['old']:10.0f} {v['new']:10.0f} {v['new'] / v['old']:8.3f}")
EOF
