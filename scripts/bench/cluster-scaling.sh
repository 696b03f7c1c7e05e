#!/usr/bin/env bash
# Cluster scaling on this machine: `digits cluster --workers N` for N = 1 and 2 (keras-example by
# default), one epoch each, reporting images/s, the per-step split into compute and
# communication + waiting, and peak RSS per role. Usage:
#   scripts/bench/cluster-scaling.sh [--model M] [--epochs E] [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=keras-example
EPOCHS=1
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --quick) EXTRA=(--batch 128); EPOCHS=1; QUICK=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=${DIGITS_BIN:-.build/release/digits}
[ -x "$BIN" ] || swift build -c release --product digits
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
DATA_ARGS=()
if [ "${QUICK:-0}" = 1 ]; then
  # A small generated dataset keeps CI short; the figures then only show the plumbing works.
  python3 - "$OUT/data" <<'PY'
import gzip, os, random, struct, sys
d = sys.argv[1]; os.makedirs(d)
random.seed(1)
def write(name, dims, data):
    with gzip.open(os.path.join(d, name + ".gz"), "wb") as f:
        f.write(struct.pack(">HBB", 0, 8, len(dims)) + b"".join(struct.pack(">I", x) for x in dims) + bytes(data))
for split, n in (("train", 2000), ("t10k", 200)):
    labels = [i % 10 for i in range(n)]
    images = bytearray()
    for l in labels:
        img = bytearray(784)
        for y in range(6):
            for x in range(6):
                img[(3 + (l // 5) * 12 + y) * 28 + 2 + (l % 5) * 5 + x] = 200
        images += img
    write(f"{split}-images-idx3-ubyte", [n, 28, 28], images)
    write(f"{split}-labels-idx1-ubyte", [n], labels)
PY
  DATA_ARGS=(--data "$OUT/data")
fi
echo "| workers | images/s | ms/step | compute ms | communication + waiting | coordinator RSS MB | worker RSS MB |"
echo "|---|---|---|---|---|---|---|"
for n in 1 2; do
  log="$OUT/log$n"
  "$BIN" cluster --workers "$n" --model "$MODEL" --epochs "$EPOCHS" --no-early-stopping --out "$OUT/run$n" \
    "${DATA_ARGS[@]}" "${EXTRA[@]}" > "$log" 2>&1 || { cat "$log" >&2; exit 1; }
  python3 - "$OUT/run$n/summary.json" "$log" "$n" <<'PY'
import json, re, sys
summary = json.load(open(sys.argv[1])); log = open(sys.argv[2]).read(); n = sys.argv[3]
m = re.search(r"steps: ([\d.]+) ms/step = compute ([\d.]+) ms \+ communication/waiting ([\d.]+) ms \(([\d.]+)%\); coordinator peak RSS (\d+) MB", log)
workers = re.findall(r"peak RSS (\d+) MB", log.split("coordinator peak RSS")[0])
print(f"| {n} | {summary['train_images_per_second']:.0f} | {m.group(1)} | {m.group(2)} | {m.group(3)} ms ({m.group(4)}%) | {m.group(5)} | {', '.join(workers) or '-'} |")
PY
done
