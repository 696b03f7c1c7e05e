#!/usr/bin/env bash
# Side-by-side training throughput: Digits (Swift) vs the TensorFlow/Keras reference.
#
# For model in keras-example pytorch-example, threads in 1 2, each in its own process:
#   (a) "$DIGITS_BIN" bench --model M --threads T --json
#   (b) keras_reference.py --mode throughput --model M --threads T  (in the TF venv)
# then writes a Markdown table and the raw JSON records to
#   ${OUT:-runs/bench}/compare.md and compare.jsonl (per-run logs in $OUT/logs/).
#
# Usage: scripts/bench/compare.sh [--quick] [--no-swift] [--no-tf] [--no-build]
#   --quick     few steps (CI smoke run); TF is skipped with a note if its venv is absent
#   --no-swift  TensorFlow side only        --no-tf  Digits side only
#   --no-build  never run `swift build` (a missing binary is reported as a failed run)
# Environment:
#   DIGITS_BIN      Swift binary (default .build/release/digits; built with
#                   `swift build -c release` when the default is missing)
#   DIGITS_TF_VENV  TF virtualenv (default $HOME/.cache/digits/venv-tf; see setup-tf.sh)
#   OUT             output directory (default runs/bench)
#   MODELS, THREADS space-separated overrides (default "keras-example pytorch-example", "1 2")
#   TF_STEPS, TF_WARMUP, TF_REPEATS   TF throughput settings (default 200, 20, 1; quick 20, 5, 1)
#   DIGITS_BENCH_ARGS        extra args for `digits bench` (default none)
#   DIGITS_BENCH_QUICK_ARGS  extra args for `digits bench` with --quick (default "--steps 20")
#   BENCH_TIMEOUT   seconds per command (default 900)
# Exit status: 0 when every run that was attempted succeeded, 1 otherwise (the
# table is written either way); 2 for bad usage.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

quick=0 run_swift=1 run_tf=1 allow_build=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --no-swift) run_swift=0 ;;
    --no-tf) run_tf=0 ;;
    --no-build) allow_build=0 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

OUT="${OUT:-runs/bench}"
MODELS="${MODELS:-keras-example pytorch-example}"
THREADS="${THREADS:-1 2}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-900}"
VENV="${DIGITS_TF_VENV:-$HOME/.cache/digits/venv-tf}"
TF_PY="$VENV/bin/python"
if [[ $quick -eq 1 ]]; then
  TF_STEPS="${TF_STEPS:-20}" TF_WARMUP="${TF_WARMUP:-5}" TF_REPEATS="${TF_REPEATS:-1}"
  quick_args="${DIGITS_BENCH_QUICK_ARGS-"--steps 20"}"
  read -r -a swift_extra <<< "${DIGITS_BENCH_ARGS:-} $quick_args"
else
  TF_STEPS="${TF_STEPS:-200}" TF_WARMUP="${TF_WARMUP:-20}" TF_REPEATS="${TF_REPEATS:-1}"
  read -r -a swift_extra <<< "${DIGITS_BENCH_ARGS:-}"
fi
REPORT=(python3 "$HERE/compare_report.py")

mkdir -p "$OUT/logs"
JSONL="$OUT/compare.jsonl"
MD="$OUT/compare.md"
: > "$JSONL"

log() { echo "compare.sh: $*" >&2; }

# ---- Digits binary
swift_note=""
if [[ $run_swift -eq 1 ]]; then
  if [[ -n "${DIGITS_BIN:-}" ]]; then
    [[ -x "$DIGITS_BIN" ]] || swift_note="DIGITS_BIN=$DIGITS_BIN is not an executable file"
  else
    DIGITS_BIN=".build/release/digits"
    if [[ ! -x "$DIGITS_BIN" ]]; then
      if [[ $allow_build -eq 0 ]]; then
        swift_note="$DIGITS_BIN is missing and --no-build was given"
      elif ! command -v swift >/dev/null 2>&1; then
        swift_note="$DIGITS_BIN is missing and swift is not on PATH"
      else
        log "building $DIGITS_BIN (swift build -c release)"
        if ! timeout "$BENCH_TIMEOUT" swift build -c release >"$OUT/logs/swift-build.log" 2>&1; then
          swift_note="swift build -c release failed (see $OUT/logs/swift-build.log)"
        elif [[ ! -x "$DIGITS_BIN" ]]; then
          swift_note="swift build -c release succeeded but produced no $DIGITS_BIN"
        fi
      fi
    fi
  fi
  [[ -z "$swift_note" ]] || log "Digits side unavailable: $swift_note"
fi

# ---- TensorFlow venv
tf_skip_note=""
if [[ $run_tf -eq 1 && ! -x "$TF_PY" ]]; then
  if [[ $quick -eq 1 ]]; then
    tf_skip_note="TF venv $VENV absent: TensorFlow skipped (--quick); run scripts/bench/setup-tf.sh"
    log "$tf_skip_note"
  else
    log "TF venv $VENV absent: running setup-tf.sh"
    timeout "$BENCH_TIMEOUT" "$HERE/setup-tf.sh"
  fi
fi

failed=0
# run SIDE MODEL THREADS CMD...: runs CMD with a timeout, appends a record to $JSONL.
run() {
  local side="$1" model="$2" threads="$3"; shift 3
  local base="$OUT/logs/$side-$model-t$threads" rc=0
  log "$side $model threads=$threads: $*"
  timeout "$BENCH_TIMEOUT" "$@" >"$base.out" 2>"$base.err" || rc=$?
  "${REPORT[@]}" record --side "$side" --model "$model" --threads "$threads" --rc "$rc" \
    --stdout "$base.out" --stderr "$base.err" >>"$JSONL"
  local status
  status="$(tail -n 1 "$JSONL" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], (r["result"] or {}).get("images_per_second", ""), r["note"])')"
  log "  -> $status"
  [[ "$status" == ok* ]] || failed=1
}

skip() {
  "${REPORT[@]}" skip --side "$1" --model "$2" --threads "$3" --note "$4" >>"$JSONL"
}

for model in $MODELS; do
  for threads in $THREADS; do
    if [[ $run_swift -eq 1 ]]; then
      if [[ -n "$swift_note" ]]; then
        skip digits "$model" "$threads" "$swift_note"
        failed=1
      else
        run digits "$model" "$threads" "$DIGITS_BIN" bench --model "$model" --threads "$threads" --json \
          ${swift_extra[@]+"${swift_extra[@]}"}
      fi
    fi
    if [[ $run_tf -eq 1 ]]; then
      if [[ -n "$tf_skip_note" ]]; then
        skip tensorflow "$model" "$threads" "$tf_skip_note"
      else
        run tensorflow "$model" "$threads" "$TF_PY" "$HERE/keras_reference.py" --mode throughput \
          --model "$model" --threads "$threads" --steps "$TF_STEPS" --warmup "$TF_WARMUP" --repeats "$TF_REPEATS"
      fi
    fi
  done
done

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
"${REPORT[@]}" table "$JSONL" --title "Digits vs TensorFlow: training throughput (batch 128, Adam)" \
  --meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --meta "host=${cpu:-unknown CPU}, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at end" \
  --meta "mode=$([[ $quick -eq 1 ]] && echo quick || echo full), TF steps=$TF_STEPS warmup=$TF_WARMUP repeats=$TF_REPEATS" \
  --meta "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (dirty)')" \
  >"$MD"
cat "$MD"
log "wrote $MD and $JSONL"
exit "$failed"
