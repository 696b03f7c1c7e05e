#!/usr/bin/env bash
# Runs a coordinator and two workers in separate Linux network namespaces joined by veth pairs on a
# bridge (addresses 10.77.0.0/24 exist only inside these namespaces), so cluster traffic really
# crosses interfaces; then checks the weights equal a loopback `digits cluster` run of the same
# recipe. Traffic is CURVE-encrypted with keys from `digits keys generate`; a worker with keys the
# coordinator does not list, and one with no keys, must not join. Needs root and iproute2. Usage:
#   scripts/netns-test.sh [--bin PATH] [--data DIR] [-- recipe flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
BIN=.build/release/digits
DATA=""
RECIPE=(--epochs 1 --batch 64 --micro-batch 16 --seed 7)
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --data) DATA="$2"; shift 2 ;;
    --) shift; RECIPE=("$@"); break ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "netns-test: needs root" >&2; exit 77; }
command -v ip >/dev/null || { echo "netns-test: needs iproute2 (ip)" >&2; exit 77; }
[ -x "$BIN" ] || { echo "netns-test: no binary at $BIN (swift build -c release)" >&2; exit 2; }
BIN=$(readlink -f "$BIN")
DATA_ARGS=()
[ -n "$DATA" ] && DATA_ARGS=(--data "$DATA")

tag="dg$$"
C="${tag}c"; W1="${tag}w1"; W2="${tag}w2"
WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for ns in "$C" "$W1" "$W2"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

netns_cluster "$tag" 10.77.0

echo "netns-test: coordinator in $C (10.77.0.1), workers in $W1 (10.77.0.11) and $W2 (10.77.0.12)"
"$BIN" keys generate --out "$WORK/keys" > /dev/null
"$BIN" keys generate --out "$WORK/stranger-keys" > /dev/null
ip netns exec "$C" "$BIN" coordinator --bind tcp://10.77.0.1:0 --data-bind tcp://10.77.0.1:0 --workers 2 --keys "$WORK/keys" \
  --endpoint-file "$WORK/endpoints.json" --out "$WORK/netns" --join-deadline 60 "${DATA_ARGS[@]}" "${RECIPE[@]}" \
  > "$WORK/coordinator.log" 2>&1 &
cpid=$!; pids+=("$cpid")
for _ in $(seq 1 600); do [ -s "$WORK/endpoints.json" ] && break; kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
[ -s "$WORK/endpoints.json" ] || { cat "$WORK/coordinator.log" >&2; echo "netns-test: coordinator did not listen" >&2; exit 1; }
endpoint=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["control"])' "$WORK/endpoints.json")
echo "netns-test: coordinator listening on $endpoint"
grep -q "with CURVE" "$WORK/coordinator.log" || { cat "$WORK/coordinator.log" >&2; echo "netns-test: coordinator is not using CURVE" >&2; exit 1; }
# Without keys a worker refuses to dial a non-loopback coordinator in plaintext.
if ip netns exec "$W1" "$BIN" worker --coordinator "$endpoint" --name no-keys > "$WORK/nokeys.log" 2>&1; then
  echo "netns-test: a worker without keys started against a non-loopback endpoint" >&2; exit 1
fi
grep -q "needs CURVE keys" "$WORK/nokeys.log" || { cat "$WORK/nokeys.log" >&2; exit 1; }
# A worker with a key pair the coordinator does not list dials first and must never join.
# (It has the right server key, so the handshake reaches the coordinator's ZAP allow-list.)
ip netns exec "$W2" "$BIN" worker --coordinator "$endpoint" --name stranger --keys "$WORK/keys" --key "$WORK/stranger-keys/worker.key" \
  --silence-deadline 20 > "$WORK/stranger.log" 2>&1 & spid=$!; pids+=("$spid")
sleep 1
ip netns exec "$W1" "$BIN" worker --coordinator "$endpoint" --name ns-worker-1 --keys "$WORK/keys" > "$WORK/w1.log" 2>&1 & pids+=("$!")
ip netns exec "$W2" "$BIN" worker --coordinator "$endpoint" --name ns-worker-2 --keys "$WORK/keys" > "$WORK/w2.log" 2>&1 & pids+=("$!")
# Every wait has a deadline.
for _ in $(seq 1 6000); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$cpid" 2>/dev/null; then echo "netns-test: coordinator still running after 600 s" >&2; exit 1; fi
wait "$cpid" || { cat "$WORK/coordinator.log" >&2; echo "netns-test: coordinator failed" >&2; exit 1; }
tx1=$(ip netns exec "$W1" cat "/sys/class/net/${tag}v1/statistics/tx_bytes")
rx1=$(ip netns exec "$W1" cat "/sys/class/net/${tag}v1/statistics/rx_bytes")
echo "netns-test: worker 1 interface sent $tx1 bytes, received $rx1 bytes"
[ "$tx1" -gt 1000000 ] && [ "$rx1" -gt 1000000 ] || { echo "netns-test: too little traffic crossed the veth link" >&2; exit 1; }
grep -q "security: refused a connection" "$WORK/coordinator.log" || { cat "$WORK/coordinator.log" >&2; echo "netns-test: the stranger was not refused" >&2; exit 1; }
if grep -q "stranger" "$WORK/coordinator.log"; then
  echo "netns-test: the stranger registered with the coordinator" >&2; exit 1
fi
kill "$spid" 2>/dev/null || true
echo "netns-test: the worker with unknown keys was refused ($(grep -c 'security: refused' "$WORK/coordinator.log") handshakes)"
netns_sha=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["weights_sha256"])' "$WORK/netns/summary.json")

"$BIN" cluster --workers 2 --out "$WORK/loopback" "${DATA_ARGS[@]}" "${RECIPE[@]}" > "$WORK/loopback.log" 2>&1 \
  || { cat "$WORK/loopback.log" >&2; echo "netns-test: loopback run failed" >&2; exit 1; }
loop_sha=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["weights_sha256"])' "$WORK/loopback/summary.json")
echo "netns-test: namespaces $netns_sha"
echo "netns-test: loopback   $loop_sha"
[ "$netns_sha" = "$loop_sha" ] || { echo "netns-test: FAIL: weights differ" >&2; exit 1; }
echo "netns-test: PASS"
