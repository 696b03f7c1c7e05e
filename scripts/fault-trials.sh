#!/usr/bin/env bash
# Fault injection: trains the same recipe again and again while killing things at random moments,
# and checks every run ends with the clean run's weights_sha256 (DESIGN.md: the result does not
# depend on the cluster, nor on its failures). Fault kinds, in turn:
#   worker       kill -9 a worker of `digits cluster --workers 2`; the launcher starts it again and
#                its micro-batches are reassigned meanwhile
#   server       kill -9 a standalone parameter-server shard (--servers 2); the launcher restarts the
#                coordinator and shards from the last checkpoint, the workers rejoin
#   coordinator  kill -9 the coordinator; the launcher restarts it with --resume, the workers rejoin
#   partition    coordinator and two workers in separate network namespaces (CURVE keys); one worker's
#                link goes down for longer than the heartbeat deadline, then comes back: it is
#                dropped, its micro-batches reassigned, and it joins again
# Usage: scripts/fault-trials.sh [--trials N] [--bin PATH] [--train N] [--kinds a,b,..] [--seed S]
# Prints one line per trial and a final "fault-trials: N/N passed". Needs root for partition trials
# (skipped with a note otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
BIN=.build/release/digits
TRIALS=12
TRAIN=8000
KINDS=worker,server,coordinator,partition
SEED=$$
while [ $# -gt 0 ]; do
  case "$1" in
    --trials) TRIALS="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    --train) TRAIN="$2"; shift 2 ;;
    --kinds) KINDS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    *) echo "fault-trials: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "fault-trials: no binary at $BIN (swift build -c release)" >&2; exit 2; }
BIN=$(readlink -f "$BIN")
IFS=, read -r -a kinds <<< "$KINDS"
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
  kinds=("${kinds[@]/partition}")
  echo "fault-trials: not root or no iproute2: partition trials skipped"
fi
kinds=($(printf '%s\n' "${kinds[@]}" | grep -v '^$'))
RANDOM=$SEED
WORK=$(mktemp -d /tmp/digits-faults.XXXXXX)
tag="df$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for ns in "${tag}c" "${tag}w1" "${tag}w2"; do ip netns delete "$ns" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# A subset of real MNIST keeps each trial short (the full set works the same way, only slower).
"$BIN" data show > "$WORK/data.txt" 2>&1 || { cat "$WORK/data.txt" >&2; exit 1; }
SRC=$(sed -n 's/^data: \([^ ]*\) .*/\1/p' "$WORK/data.txt" | head -1)
python3 scripts/lib/mnist-subset.py "$SRC" "$WORK/data" "$TRAIN" 2000
RECIPE=(--data "$WORK/data" --epochs 2 --batch 64 --micro-batch 16 --checkpoint-every 10 --seed 11 --no-early-stopping)
TIMING=(--heartbeat-ms 200 --heartbeat-deadline 2)
sha() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["weights_sha256"])' "$1/summary.json" 2>/dev/null || echo none; }

"$BIN" train --out "$WORK/reference" "${RECIPE[@]}" > "$WORK/reference.log" 2>&1 || { cat "$WORK/reference.log" >&2; exit 1; }
REF=$(sha "$WORK/reference")
"$BIN" cluster --workers 2 --out "$WORK/clean" "${TIMING[@]}" "${RECIPE[@]}" > "$WORK/clean.log" 2>&1 & clean=$!
while ! grep -q "training starts" "$WORK/clean.log" 2>/dev/null && kill -0 "$clean" 2>/dev/null; do sleep 0.05; done
start=$(date +%s.%N)
wait "$clean" || { cat "$WORK/clean.log" >&2; exit 1; }
CLEAN_SECONDS=$(python3 -c "import time; print(max(1.0, time.time() - $start))")
[ "$(sha "$WORK/clean")" = "$REF" ] || { echo "fault-trials: the clean cluster run differs from digits train" >&2; exit 1; }
echo "fault-trials: reference weights_sha256 $REF (digits train and a clean 2-worker cluster; its training took ${CLEAN_SECONDS} s); seed $SEED"

# Faults land at a random step: the trial waits until the run has written a checkpoint at or past a
# step drawn uniformly from the first 80% of the run (checkpoints come every 10 steps), then strikes.
STEPS=$(python3 -c "import sys; n=int(sys.argv[1]); v=n//10; print((n - v) // 64 * 2)" "$TRAIN")
random_step() { python3 -c "import random; random.seed($RANDOM); print(10 * random.randint(1, max(1, int($STEPS * 0.8) // 10)))"; }
newest_step() {  # run directory -> newest checkpoint step (0 if none)
  ls "$1/checkpoints" 2>/dev/null | sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.ckpt$/\1/p' | sort -n | tail -1 | grep . || echo 0
}
wait_for_step() {  # run directory, step, pid: returns when the run reached the step (or the process ended)
  for _ in $(seq 1 6000); do
    [ "$(newest_step "$1")" -ge "$2" ] && return 0
    kill -0 "$3" 2>/dev/null || return 0
    sleep 0.02
  done
}
# The pid of the launcher's child whose command line contains $2.
child_pid() {
  for c in $(pgrep -P "$1" || true); do
    if tr '\0' ' ' < "/proc/$c/cmdline" 2>/dev/null | grep -q -- "$2"; then echo "$c"; return; fi
  done
}
wait_deadline() {  # pid seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

netns_up() {
  netns_cluster "$tag" 10.78.0
  [ -d "$WORK/keys" ] || "$BIN" keys generate --out "$WORK/keys" > /dev/null
}

passed=0
for t in $(seq 1 "$TRIALS"); do
  kind=${kinds[$(( (t - 1) % ${#kinds[@]} ))]}
  out="$WORK/trial-$t"
  log="$WORK/trial-$t.log"
  target=$(random_step)
  evidence=""
  case "$kind" in
    worker|server|coordinator)
      extra=()
      [ "$kind" = server ] && extra=(--servers 2)
      "$BIN" cluster --workers 2 "${extra[@]}" --out "$out" "${TIMING[@]}" "${RECIPE[@]}" > "$log" 2>&1 & launcher=$!; pids+=("$launcher")
      wait_for_step "$out" "$target" "$launcher"
      case "$kind" in
        worker) victim=$(child_pid "$launcher" "--name worker-1"); evidence="starting it again" ;;
        server) victim=$(child_pid "$launcher" "--name server-1"); evidence="restarting the coordinator" ;;
        coordinator) victim=$(child_pid "$launcher" "coordinator --bind"); evidence="restarting the coordinator" ;;
      esac
      at=$(newest_step "$out")
      [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null || true
      wait_deadline "$launcher" 600 || { echo "fault-trials: trial $t: cluster still running after 600 s" >&2; kill -9 "$launcher"; }
      status=0; wait "$launcher" || status=$?
      ;;
    partition)
      netns_up
      ip netns exec "$C" "$BIN" coordinator --bind tcp://10.78.0.1:0 --data-bind tcp://10.78.0.1:0 --workers 2 --keys "$WORK/keys" \
        --endpoint-file "$WORK/ep-$t.json" --out "$out" --join-deadline 60 "${TIMING[@]}" "${RECIPE[@]}" > "$log" 2>&1 & cpid=$!; pids+=("$cpid")
      for _ in $(seq 1 600); do [ -s "$WORK/ep-$t.json" ] && break; sleep 0.1; done
      ep=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["control"])' "$WORK/ep-$t.json")
      ip netns exec "$W1" "$BIN" worker --coordinator "$ep" --name pw1 --keys "$WORK/keys" --silence-deadline 60 > "$log.w1" 2>&1 & pids+=("$!")
      ip netns exec "$W2" "$BIN" worker --coordinator "$ep" --name pw2 --keys "$WORK/keys" --silence-deadline 60 > "$log.w2" 2>&1 & w2pid=$!; pids+=("$w2pid")
      w1pid=${pids[-2]}
      wait_for_step "$out" "$target" "$cpid"
      at=$(newest_step "$out")
      ip -n "$W1" link set "${tag}v1" down
      sleep 3.5   # longer than the 2 s heartbeat deadline
      ip -n "$W1" link set "${tag}v1" up
      victim=link
      evidence="dropping it"
      wait_deadline "$cpid" 600 || { echo "fault-trials: trial $t: coordinator still running after 600 s" >&2; kill -9 "$cpid"; }
      status=0; wait "$cpid" || status=$?
      # The workers leave on the coordinator's shutdown message; one still cut off when the job ended
      # would wait for its silence deadline, so it is stopped here.
      for w in "$w1pid" "$w2pid"; do
        wait_deadline "$w" 5 || kill -9 "$w" 2>/dev/null
        wait "$w" 2>/dev/null || true
      done
      cat "$log.w1" >> "$log"
      ;;
  esac
  got=$(sha "$out")
  if [ "$status" -ne 0 ]; then
    result="FAIL (exit status $status)"
  elif [ -z "$victim" ]; then
    result="FAIL (nothing to kill at step $at)"
  elif ! grep -q "$evidence" "$log"; then
    result="FAIL (the fault left no trace: expected '$evidence' in the log)"
  elif [ "$got" != "$REF" ]; then
    result="FAIL (weights_sha256 $got)"
  else
    result="PASS"
    passed=$((passed + 1))
  fi
  echo "fault-trials: trial $t/$TRIALS: $kind fault at step $at (drawn: $target of $STEPS): $result"
  [ "$result" = PASS ] || { echo "--- log of trial $t ---"; tail -40 "$log"; }
done
echo "fault-trials: $passed/$TRIALS passed (reference $REF)"
[ "$passed" -eq "$TRIALS" ]
