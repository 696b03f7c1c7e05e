#!/usr/bin/env bash
# One formatting style, checked: `swift format lint` (in the toolchain) with the committed
# .swift-format (4-space indent, 140 columns), and no Swift line longer than 140 characters
# (the formatter cannot break long string literals or comments, so that is checked apart).
#   scripts/check-format.sh         check (what `make test` runs); exits non-zero on any finding
#   scripts/check-format.sh --fix   reformat in place, then check
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Package.swift Sources Tests Fuzz)
if [[ "${1:-}" == "--fix" ]]; then
  swift format format --in-place --recursive --parallel "${paths[@]}"
fi
status=0
swift format lint --strict --recursive --parallel "${paths[@]}" || status=1
long=$(find "${paths[@]}" -name '*.swift' -print0 | xargs -0 python3 -c '
import sys
for path in sys.argv[1:]:
    for n, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if len(line) > 140: print(f"{path}:{n}: {len(line)} characters")
')
if [[ -n "$long" ]]; then
  echo "$long"
  echo "check-format: $(echo "$long" | wc -l) line(s) longer than 140 characters" >&2
  status=1
fi
[[ $status -eq 0 ]] && echo "check-format: ok"
exit $status
