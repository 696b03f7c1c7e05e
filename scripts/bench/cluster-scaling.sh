#!/usr/bin/env bash
# Cluster scaling on this machine: `digits cluster --workers N` for N = 1 and 2 (keras-example by
# default), one epoch each, reporting images/s, the per-step split into compute and
# communication + waiting, and peak RSS per role. The runs alternate (1, 2, 1, 2, ...) --repeats
# times and the medians are compared, because this shared 2-core machine drifts by 10-30% within
# minutes. Without --quick it also measures the machine's own ceiling: `digits bench` alone and
# two copies at once (no communication at all). Usage:
#   scripts/bench/cluster-scaling.sh [--model M] [--epochs E] [--repeats R] [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=keras-example
EPOCHS=1
REPEATS=3
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --quick) EXTRA=(--batch 128); EPOCHS=1; QUICK=1; REPEATS=1; shift ;;
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
echo "| run | workers | images/s | ms/step | compute ms | communication + waiting | coordinator RSS MB | worker RSS MB |"
echo "|---|---|---|---|---|---|---|---|"
for r in $(seq 1 "$REPEATS"); do
  for n in 1 2; do
    log="$OUT/log$n-$r"
    "$BIN" cluster --workers "$n" --model "$MODEL" --epochs "$EPOCHS" --no-early-stopping --out "$OUT/run$n-$r" \
      "${DATA_ARGS[@]}" "${EXTRA[@]}" > "$log" 2>&1 || { cat "$log" >&2; exit 1; }
    python3 - "$OUT/run$n-$r/summary.json" "$log" "$n" "$r" "$OUT/rows.tsv" <<'PY'
import json, re, sys
summary = json.load(open(sys.argv[1])); log = open(sys.argv[2]).read(); n, r = sys.argv[3], sys.argv[4]
m = re.search(r"steps: ([\d.]+) ms/step = compute ([\d.]+) ms \+ communication/waiting ([\d.]+) ms \(([\d.]+)%\); coordinator peak RSS (\d+) MB", log)
workers = re.findall(r"peak RSS (\d+) MB", log.split("coordinator peak RSS")[0])
ips = summary['train_images_per_second']
print(f"| {r} | {n} | {ips:.0f} | {m.group(1)} | {m.group(2)} | {m.group(3)} ms ({m.group(4)}%) | {m.group(5)} | {', '.join(workers) or '-'} |")
open(sys.argv[5], "a").write(f"{n}\t{r}\t{ips}\t{m.group(4)}\t{summary['weights_sha256']}\n")
PY
  done
done
python3 - "$OUT/rows.tsv" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
one = {int(r): float(i) for n, r, i, _, _ in rows if n == "1"}
two = {int(r): float(i) for n, r, i, _, _ in rows if n == "2"}
share = [float(p) for n, _, _, p, _ in rows if n == "2"]
pairs = [two[r] / one[r] for r in sorted(one) if r in two]
hashes = {h.strip() for *_, h in rows}
print()
print(f"median images/s: 1 worker {statistics.median(one.values()):.0f}, 2 workers {statistics.median(two.values()):.0f}; "
      f"speed-up of medians {statistics.median(two.values()) / statistics.median(one.values()):.2f}x; "
      f"per-pair speed-ups {', '.join(f'{p:.2f}x' for p in pairs)}; "
      f"2-worker communication + waiting median {statistics.median(share):.1f}% of step time; "
      f"weights_sha256 {'identical across all runs' if len(hashes) == 1 else 'DIFFERS: ' + ', '.join(sorted(hashes))}")
PY
if [ "${QUICK:-0}" != 1 ]; then
  # The machine's ceiling: the same training kernels with no communication, one process alone
  # versus two at once (each 1 thread); the sum of the pair over the single figure.
  for r in $(seq 1 "$REPEATS"); do
    "$BIN" bench --model "$MODEL" --steps 300 --sgemm-seconds 0 --json > "$OUT/alone$r.json" 2>/dev/null
    "$BIN" bench --model "$MODEL" --steps 300 --sgemm-seconds 0 --json > "$OUT/pairA$r.json" 2>/dev/null &
    "$BIN" bench --model "$MODEL" --steps 300 --sgemm-seconds 0 --json > "$OUT/pairB$r.json" 2>/dev/null
    wait
  done
  python3 - "$OUT" "$REPEATS" <<'PY'
import json, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])
ips = lambda f: json.load(open(f"{out}/{f}.json"))["images_per_second"]
ratios = [(ips(f"pairA{r}") + ips(f"pairB{r}")) / ips(f"alone{r}") for r in range(1, n + 1)]
print(f"ceiling (digits bench, no communication): two processes at once give {', '.join(f'{x:.2f}x' for x in ratios)} "
      f"the images/s of one alone (median {statistics.median(ratios):.2f}x)")
PY
fi
