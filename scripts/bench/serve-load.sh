#!/usr/bin/env bash
# Load on the inference server: starts `digits serve` on a free loopback port and drives
# POST /v1/predict with wrk (a real MNIST test digit as a raw image/png body) at a few fixed
# connection counts, each for a bounded time; prints throughput and p50/p90/p99 latency.
#
# Usage: scripts/bench/serve-load.sh [--quick] [--no-build]
#   --quick     one run, 2 connections for 2 seconds (smoke run, used by scripts/test.sh)
#   --no-build  never run `swift build` (a missing binary is an error)
# Environment:
#   DIGITS_BIN   binary (default .build/release/digits; built when missing)
#   MODEL        model.digits to serve (default: trains keras-example for 1 epoch into $OUT/model)
#   CONNECTIONS  space-separated connection counts (default "1 4 16"; quick "2")
#   DURATION     seconds per run (default 10; quick 2)
#   THREADS      wrk threads (default 1: the machine has 2 cores, the server needs them)
#   OUT          output directory (default runs/bench)
# Writes $OUT/serve-load.md (the table) and prints it. Traffic goes to 127.0.0.1 only.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_args serve-load.sh 2,18 "$@"
if [[ $quick -eq 1 ]]; then
  CONNECTIONS="${CONNECTIONS:-2}" DURATION="${DURATION:-2}"
else
  CONNECTIONS="${CONNECTIONS:-1 4 16}" DURATION="${DURATION:-10}"
fi
THREADS="${THREADS:-1}"
OUT="${OUT:-runs/bench}"
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "serve-load.sh: wrk not found (scripts/install-test-deps.sh installs it)" >&2; exit 1; }

bench_binary serve-load.sh

DATA="${DIGITS_DATA_DIR:-}"
if [[ -z "$DATA" ]]; then
  for d in data/mnist ../shared/data/mnist /work/shared/data/mnist; do [[ -d "$d" ]] && { DATA="$d"; break; }; done
fi
[[ -n "$DATA" ]] || { echo "serve-load.sh: no MNIST directory (set DIGITS_DATA_DIR)" >&2; exit 1; }

if [[ -z "${MODEL:-}" ]]; then
  MODEL="$OUT/serve-load-model/model.digits"
  if [[ ! -f "$MODEL" ]]; then
    rm -rf "$OUT/serve-load-model"
    echo "training a model to serve (keras-example, 1 epoch) into $OUT/serve-load-model"
    timeout 900 "$BIN" train --data "$DATA" --out "$OUT/serve-load-model" --epochs 1 --model keras-example > "$OUT/serve-load-train.log" 2>&1 \
      || { echo "serve-load.sh: training failed, see $OUT/serve-load-train.log" >&2; exit 1; }
  fi
fi

# Test image 0 (a 7) as an 8-bit greyscale PNG, written with Python's standard library.
BODY="$OUT/serve-load-digit.png"
python3 - "$DATA" "$BODY" <<'PY'
import gzip, os, struct, sys, zlib
data, out = sys.argv[1], sys.argv[2]
path = os.path.join(data, "t10k-images-idx3-ubyte")
raw = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
pixels = raw[16:16 + 784]
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
rows = b"".join(b"\0" + pixels[r * 28:(r + 1) * 28] for r in range(28))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(out, "wb").write(png)
PY
LUA="$OUT/serve-load.lua"
cat > "$LUA" <<LUA
local f = assert(io.open("$BODY", "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "image/png"
LUA

LOG="$OUT/serve-load-server.log"
"$BIN" serve --model "$MODEL" --host 127.0.0.1 --port 0 > "$LOG" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
URL=""
for _ in $(seq 1 300); do
  URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$LOG" | head -1 || true)
  [[ -n "$URL" ]] && break
  kill -0 $SERVER 2>/dev/null || { echo "serve-load.sh: the server exited:" >&2; cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$URL" ]] || { echo "serve-load.sh: the server printed no address within 30 s" >&2; exit 1; }
# One request first: it must answer 200 with a digit.
check=$(curl -sS --max-time 10 -H "Content-Type: image/png" --data-binary "@$BODY" "$URL/v1/predict")
echo "$check" | grep -q '"digit"' || { echo "serve-load.sh: bad answer: $check" >&2; exit 1; }

TABLE="$OUT/serve-load.md"
{
  echo "| connections | requests/s | p50 | p90 | p99 | requests | errors |"
  echo "|---|---|---|---|---|---|---|"
} > "$TABLE"
status=0
for c in $CONNECTIONS; do
  result="$OUT/serve-load-c$c.txt"
  timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$c" -d"${DURATION}s" --timeout 10s --latency -s "$LUA" "$URL/v1/predict" > "$result" 2>&1 || status=1
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$result")
  p50=$(awk '$1 == "50%" {print $2}' "$result")
  p90=$(awk '$1 == "90%" {print $2}' "$result")
  p99=$(awk '$1 == "99%" {print $2}' "$result")
  total=$(awk '/requests in/ {print $1}' "$result")
  errors=$(awk '/Non-2xx or 3xx responses:/ {n += $5} /Socket errors:/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$result")
  [[ -n "$rps" ]] || { echo "serve-load.sh: wrk failed for $c connections:" >&2; cat "$result" >&2; status=1; continue; }
  [[ "$errors" -eq 0 ]] || status=1
  echo "| $c | $rps | $p50 | $p90 | $p99 | $total | $errors |" >> "$TABLE"
done
echo "digits serve, keras-example, POST /v1/predict with a 28x28 PNG body, ${DURATION} s per run, wrk -t$THREADS ($(basename "$BIN") at $BIN):"
cat "$TABLE"
curl -sS --max-time 10 "$URL/metrics" | grep -E '^digits_predict_latency_seconds_(count|sum)' || true
exit $status
