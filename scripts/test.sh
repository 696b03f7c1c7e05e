#!/usr/bin/env bash
# The whole test suite: unit tests (debug build; numeric targets are always optimised), CLI tests
# that run the real `digits` binary (cluster over loopback and across network namespaces), an
# end-to-end training run on real MNIST, after the formatting check (scripts/check-format.sh);
# then short versions of the long checks (fuzzing, benchmarks) so their scripts keep working.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-test-deps.sh
scripts/check-format.sh
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || exit "$status"
echo "--- short long-checks ---"
DIGITS_FUZZ_OPT=-Onone scripts/fuzz.sh --all --seconds 3
DIGITS_BIN=.build/debug/digits scripts/bench/cluster-scaling.sh --quick
DIGITS_BIN=.build/debug/digits OUT=.build/bench-quick DIGITS_BENCH_QUICK_ARGS="--steps 5 --sgemm-seconds 0.2" \
  scripts/bench/compare.sh --quick --no-tf --no-build
DIGITS_BIN=.build/debug/digits scripts/bench/loadtest.sh --quick --no-build
DIGITS_BIN=.build/debug/digits OUT=.build/bench-quick scripts/bench/serve-load.sh --quick --no-build
scripts/fault-trials.sh --bin .build/debug/digits --trials 4 --train 4000
