#!/usr/bin/env bash
# Fuzzes the wire-protocol decoder with libFuzzer (swiftc -sanitize=fuzzer,address).
#   scripts/fuzz.sh [SECONDS]        default 600 s; CI runs a short version (scripts/fuzz.sh 20)
# The seed corpus is Fuzz/corpus/wire (one valid message of each type and a few invalid near-misses;
# FuzzCorpusTests checks that each decodes or is rejected as its name says);
# crashes are written to Fuzz/crashes/ and make the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-600}
mkdir -p .build/fuzz Fuzz/crashes
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name WireFuzz \
  Sources/WireProtocol/*.swift Fuzz/WireFuzz.swift -o .build/fuzz/wirefuzz
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cp Fuzz/corpus/wire/* "$WORK"/
set +e
.build/fuzz/wirefuzz "$WORK" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -artifact_prefix=Fuzz/crashes/ \
  -print_final_stats=1 > .build/fuzz/last-run.log 2>&1
status=$?
set -e
grep -E "^stat::number_of_executed_units|^stat::peak_rss|^#[0-9]+ +DONE" .build/fuzz/last-run.log || true
if [ $status -ne 0 ]; then
  tail -40 .build/fuzz/last-run.log
  echo "fuzz: FAILED (status $status); see Fuzz/crashes/" >&2
  exit 1
fi
echo "fuzz: ${SECONDS_TO_RUN} s, no crash; $(ls "$WORK" | wc -l) corpus entries"
