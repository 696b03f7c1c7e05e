# Shared by the bench scripts (sourced, not run): the repository root as working directory, the
# --quick/--no-build/--help flags, and the release binary.
# The calling script by absolute path, for --help after the cd below.
BENCH_SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# bench_args NAME HELP_LINES "$@": sets quick (0/1) and allow_build (0/1); --help prints lines
# HELP_LINES (a sed range such as 2,22) of the calling script; anything else is a usage error.
bench_args() {
  local name=$1 help=$2 arg
  shift 2
  quick=0 allow_build=1
  for arg in "$@"; do
    case "$arg" in
      --quick) quick=1 ;;
      --no-build) allow_build=0 ;;
      -h|--help) sed -n "${help}p" "$BENCH_SCRIPT"; exit 0 ;;
      *) echo "$name: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
  done
}

# bench_binary NAME: sets BIN ($DIGITS_BIN, default .build/release/digits) and builds the default
# when it is missing and building is allowed (allow_build, default 1).
bench_binary() {
  BIN="${DIGITS_BIN:-.build/release/digits}"
  [[ -x "$BIN" ]] && return 0
  if [[ -n "${DIGITS_BIN:-}" || ${allow_build:-1} -eq 0 ]]; then
    echo "$1: $BIN is not an executable (build it, or unset DIGITS_BIN to build the default)" >&2
    exit 1
  fi
  echo "$1: building $BIN (swift build -c release --product digits)" >&2
  swift build -c release --product digits >&2
}
