#!/usr/bin/env bash
# The whole test suite: unit tests (debug build; numeric targets are always optimised), CLI tests
# that run the real `digits` binary, and an end-to-end training run on real MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
