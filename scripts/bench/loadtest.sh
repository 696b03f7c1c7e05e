#!/usr/bin/env bash
# Parameter-server load test: `digits loadtest` (a real coordinator, simulated workers over
# loopback that push precomputed gradients without computing) for several worker counts, then a
# Markdown table with the raw libzmq DEALER<->ROUTER ceiling for comparison.
#
# Usage: scripts/bench/loadtest.sh [--quick] [--no-build]
#   --quick     8 workers for 3 seconds (smoke run)
#   --no-build  never run `swift build` (a missing binary is an error)
# Default runs: 16 and 64 workers, 10 seconds each, batch = max(128, 16 x workers) so every worker
# receives a micro-batch each step (micro-batches are spread round-robin).
# Environment:
#   DIGITS_BIN      binary (default .build/release/digits; built with `swift build -c release
#                   --product digits` when missing)
#   OUT             output directory for the JSON records and logs (default runs/bench)
#   WORKERS         space-separated worker counts (default "16 64"; quick "8")
#   SECONDS_PER_RUN seconds of load per run (default 10; quick 3)
#   LOADTEST_ARGS   extra arguments for `digits loadtest` (e.g. "--model pytorch-example")
#   RUN_TIMEOUT     seconds per run before it is killed (default 300)
# Writes $OUT/loadtest.md (the table) and $OUT/loadtest-<workers>.json; prints the table.
# Exit status: 0 when every run succeeded, 1 otherwise (the table is written either way); 2 for bad usage.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_args loadtest.sh 2,22 "$@"

if [[ $quick -eq 1 ]]; then
  WORKERS="${WORKERS:-8}" SECONDS_PER_RUN="${SECONDS_PER_RUN:-3}"
else
  WORKERS="${WORKERS:-16 64}" SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
fi
OUT="${OUT:-runs/bench}"
RUN_TIMEOUT="${RUN_TIMEOUT:-300}"
read -r -a extra <<< "${LOADTEST_ARGS:-}"

bench_binary loadtest.sh

mkdir -p "$OUT/logs"
records=()
failed=0
for w in $WORKERS; do
  batch=$(( w * 16 > 128 ? w * 16 : 128 ))
  json="$OUT/loadtest-$w.json" log="$OUT/logs/loadtest-$w.log"
  echo "loadtest.sh: $w workers, batch $batch, $SECONDS_PER_RUN s (log: $log)" >&2
  if timeout --kill-after=10 "$RUN_TIMEOUT" "$BIN" loadtest --workers "$w" --batch "$batch" --seconds "$SECONDS_PER_RUN" --json \
       ${extra[@]+"${extra[@]}"} > "$json" 2> "$log"; then
    records+=("$json")
  else
    echo "loadtest.sh: run with $w workers failed (status $?); last lines of $log:" >&2
    tail -n 15 "$log" >&2 || true
    # A run that printed its JSON (e.g. a failed exactly-once check) still goes in the table.
    if python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$json" 2>/dev/null; then records+=("$json"); fi
    failed=1
  fi
done

python3 - "${records[@]+"${records[@]}"}" > "$OUT/loadtest.md" <<'PY'
import json, sys

rows = []
for path in sys.argv[1:]:
    with open(path) as f:
        rows.append(json.load(f))

def raw(r, which):
    v = r.get(which)
    return "-" if v is None else f"{v:,.0f}"

print("| workers | batch | pushes/s | MB/s | steps/s | coordinator RSS MB | coordinator fds start→end | loadtest fds start→end "
      "| CPU % coordinator / loadtest | exactly once | raw libzmq MB/s (push size) | raw libzmq MB/s (4.8 MB) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    once = "yes" if r.get("exactly_once") else f"NO ({r.get('pushes_rejected', '?')} rejected, {r.get('pushes_duplicated', '?')} duplicated)"
    print(f"| {r['workers']} | {r['batch']} | {r['pushes_per_second']:,.0f} | {r['gradient_mb_per_second']:,.1f} "
          f"| {r['steps_per_second']:,.1f} | {r['coordinator_peak_rss_mb']:,.0f} "
          f"| {r['coordinator_fds_start']}→{r['coordinator_fds_end']} | {r['loadtest_fds_start']}→{r['loadtest_fds_end']} "
          f"| {r['coordinator_cpu_percent']:.0f} / {r['loadtest_cpu_percent']:.0f} | {once} "
          f"| {raw(r, 'raw_push_mb_per_second')} | {raw(r, 'raw_large_mb_per_second')} |")
if rows:
    r = rows[0]
    print()
    print(f"{r['model']}: {r['parameters']:,} parameters = {r['push_bytes']:,}-byte gradient pushes; micro-batch {r['micro_batch']}; "
          f"{r['seconds']:.1f} s of load per run; MB = 10^6 bytes. pushes/s and MB/s count gradients the server accepted; "
          "raw libzmq = DEALER<->ROUTER round trips on loopback, one message in flight, bytes carried both ways.")
PY
cat "$OUT/loadtest.md"
echo "loadtest.sh: wrote $OUT/loadtest.md and ${#records[@]} JSON record(s) in $OUT" >&2
exit $failed
