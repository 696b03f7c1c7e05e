#!/usr/bin/env bash
# Fuzzes every decoder that faces the network or a user's file with libFuzzer and AddressSanitizer
# (swiftc -sanitize=fuzzer,address):
#   wire        the cluster wire codec (WireCodec.decode)                       Sources/WireProtocol
#   png         PNG.decodeGray                                                  Sources/MNISTData/PNG.swift
#   gzip        Gzip.decompress and Gzip.inflateZlib                            Sources/MNISTData/Gzip.swift
#   idx         IDXFile.decodeFile (raw or gzip IDX files)                      Sources/MNISTData/IDXFile.swift
#   multipart   Multipart.boundary and Multipart.parse (first line = Content-Type)  Sources/Serving/Multipart.swift
#   predict     PredictRequest.decode: JSON, PNG, JPEG and multipart bodies      Sources/Serving/PredictRequest.swift
#   model       ModelFile.decode (SealedFile, JSON header, model spec)          Sources/Training/ModelFile.swift
#   checkpoint  Checkpoint.decode                                               Sources/Training/Checkpoint.swift
#
#   scripts/fuzz.sh --target png --seconds 300     one target (repeat --target for several)
#   scripts/fuzz.sh --all --seconds 600            every target in turn, 600 s each (the long run)
#   DIGITS_FUZZ_OPT=-Onone scripts/fuzz.sh --all --seconds 3   what `make test` runs (scripts/test.sh)
#   scripts/fuzz.sh [SECONDS]                      same as --all --seconds SECONDS (default 600)
#   scripts/fuzz.sh --build-only --all             just build the binaries
#
# Dictionaries (JSON keys and edge numbers): Fuzz/dict/<target>.dict, when present.
# Seeds: small synthetic files that scripts/fuzz-corpus.py generates on every run (png, gzip, idx,
# multipart, predict), plus what Fuzz/corpus/<target>/ holds: inputs that once crashed a decoder
# (regression-*) and the wire, model and checkpoint seeds that
# DIGITS_WRITE_FUZZ_CORPUS=1 swift test --filter FuzzCorpusTests writes.
# Each run fuzzes a copy of the seeds, so the committed corpus only changes by hand. A crash, a
# sanitizer report, a hang (-timeout, 10 s) or an allocation over -rss_limit_mb (2 GB) writes the input
# to Fuzz/crashes/<target>-... and makes the script fail; reproduce with
#   .build/fuzz/<target> Fuzz/crashes/<file>
# then add the input as a regression test next to the decoder's unit tests.
#
# Builds (in .build/fuzz, or .build/fuzz-Onone; rebuilt only when a source changed):
#   wire       Sources/WireProtocol + Fuzz/WireFuzz.swift, alone (no dependencies)
#   decoders   the MNISTData codecs (DataError, Gzip, IDXFile, PNG, PNM; zlib via Sources/CZlib) and
#              the Serving request decoders (Multipart, PredictRequest, JPEG, ServeError; libturbojpeg)
#              as two small instrumented modules + Fuzz/DecoderFuzz.swift; png, gzip, idx, multipart
#              and predict are names of this one binary (the harness picks the target by its name)
#   models     all of Sources/NeuralNet and Sources/Training (instrumented) + Fuzz/ModelFuzz.swift, linked
#              against the debug build's objects of the other dependencies (TensorKit, MNISTData,
#              swift-crypto, TOMLKit, swift-log), so nothing heavy is compiled twice; runs `swift build --target
#              Training` first when that build is missing. model and checkpoint are its names.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(wire png gzip idx multipart predict model checkpoint)
SECONDS_TO_RUN=600
BUILD_ONLY=0
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target) TARGETS+=("$2"); shift 2 ;;
    --all) TARGETS=("${ALL_TARGETS[@]}"); shift ;;
    --seconds) SECONDS_TO_RUN=$2; shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    [0-9]*) SECONDS_TO_RUN=$1; shift ;;
    *) echo "fuzz.sh: unknown argument '$1' (see scripts/fuzz.sh --help)" >&2; exit 2 ;;
  esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (expected one of: ${ALL_TARGETS[*]})" >&2; exit 2; }
done

# DIGITS_FUZZ_OPT=-Onone builds unoptimised binaries in .build/fuzz-Onone: about a third of the compile
# time, a few times fewer executions per second; what `make test`'s short run uses.
OPT=${DIGITS_FUZZ_OPT:--O}
case "$OPT" in -O) B=.build/fuzz ;; -Onone) B=.build/fuzz-Onone ;; *) echo "fuzz.sh: DIGITS_FUZZ_OPT must be -O or -Onone" >&2; exit 2 ;; esac
mkdir -p "$B/modules" Fuzz/crashes
FLAGS=("$OPT" -sanitize=fuzzer,address -parse-as-library)
# The Swift runtime's own crash backtracer races AddressSanitizer's report; libFuzzer prints the stack.
export SWIFT_BACKTRACE=enable=no

# True when $1 is missing or older than any of the other files.
stale() {
  local out=$1; shift
  [ -e "$out" ] || return 0
  local f
  for f in "$@"; do [ "$f" -nt "$out" ] && return 0; done
  return 1
}

build_wire() {
  local sources=(Sources/WireProtocol/*.swift Fuzz/WireFuzz.swift)
  stale "$B/wire" "${sources[@]}" "$0" || return 0
  echo "fuzz: building wire"
  swiftc "${FLAGS[@]}" -module-name WireFuzz "${sources[@]}" -o "$B/wire" > "$B/build-wire.log" 2>&1 \
    || { cat "$B/build-wire.log"; return 1; }
}

build_decoders() {
  local data=(Sources/MNISTData/{DataError,Gzip,IDXFile,PNG,PNGEncoder,PNM}.swift)
  local serving=(Sources/Serving/{Multipart,PredictRequest,ServeError,JPEG}.swift)
  local harness=(Fuzz/DecoderFuzz.swift Fuzz/FuzzSupport.swift)
  if stale "$B/decoders" "${data[@]}" "${serving[@]}" "${harness[@]}" "$0"; then
    echo "fuzz: building decoders (png gzip idx multipart predict)"
    local log="$B/build-decoders.log" inc=(-I "$B/modules" -I Sources/CZlib -I Sources/CTurboJPEG)
    {
      swiftc "${FLAGS[@]}" -module-name MNISTData -emit-library -static -emit-module \
        -emit-module-path "$B/modules/MNISTData.swiftmodule" "${inc[@]}" "${data[@]}" -o "$B/libMNISTDataFuzz.a" &&
      swiftc "${FLAGS[@]}" -module-name Serving -emit-library -static -emit-module \
        -emit-module-path "$B/modules/Serving.swiftmodule" "${inc[@]}" "${serving[@]}" -o "$B/libServingFuzz.a" &&
      swiftc "${FLAGS[@]}" -module-name DecoderFuzz "${inc[@]}" "${harness[@]}" \
        "$B/libServingFuzz.a" "$B/libMNISTDataFuzz.a" -lz -lturbojpeg -o "$B/decoders"
    } > "$log" 2>&1 || { grep -v "Cannot export local symbol" "$log"; return 1; }
  fi
  for t in png gzip idx multipart predict; do ln -sf decoders "$B/$t"; done
}

# The debug build's objects of the modules Training depends on (and theirs), except NeuralNet,
# which is compiled instrumented (it validates the model spec a model file or checkpoint carries).
DEPENDENCY_MODULES=(TensorKit MNISTData Crypto CryptoBoringWrapper CCryptoBoringSSL CCryptoBoringSSLShims
                    TOMLKit CTOML Logging)

build_models() {
  local debug=.build/debug
  [ -d "$debug" ] || debug=$(ls -d .build/*-unknown-linux-gnu/debug 2>/dev/null | head -1)
  [ -n "$debug" ] || debug=.build/debug
  if [ ! -e "$debug/Modules/NeuralNet.swiftmodule" ] || [ ! -e "$debug/Modules/TOMLKit.swiftmodule" ] ||
     [ ! -e "$debug/Modules/Crypto.swiftmodule" ]; then
    echo "fuzz: no debug build of Training's dependencies; running swift build --target Training"
    swift build --target Training > "$B/build-deps.log" 2>&1 || { tail -40 "$B/build-deps.log"; return 1; }
  fi
  local neuralnet=(Sources/NeuralNet/*.swift) training=(Sources/Training/*.swift) harness=(Fuzz/ModelFuzz.swift Fuzz/FuzzSupport.swift)
  local objects=() dirs=() m
  for m in "${DEPENDENCY_MODULES[@]}"; do dirs+=("$debug/$m.build"); done
  # A Swift module's objects as its build's output-file-map lists them, so objects of deleted or
  # renamed sources left in the build directory are not linked twice; C modules: every object.
  mapfile -d '' objects < <(python3 - "${dirs[@]}" <<'PY'
import glob, json, os, sys
for d in sys.argv[1:]:
    m = os.path.join(d, "output-file-map.json")
    if os.path.exists(m):
        objs = [v["object"] for v in json.load(open(m)).values() if "object" in v]
    else:
        objs = glob.glob(os.path.join(d, "**", "*.o"), recursive=True)
    for o in objs:
        sys.stdout.write(o + "\0")
PY
)
  if stale "$B/models" "${neuralnet[@]}" "${training[@]}" "${harness[@]}" "$0" "$debug/Modules/TensorKit.swiftmodule" \
       "$debug/Modules/MNISTData.swiftmodule"; then
    echo "fuzz: building models (model checkpoint)"
    local log="$B/build-models.log"
    local inc=(-I "$B/modules-training" -I "$debug/Modules" -I Sources/CZlib -I Sources/COpenBLAS)
    local f
    for f in "$debug"/*.build/module.modulemap; do inc+=(-Xcc "-fmodule-map-file=$f"); done
    mkdir -p "$B/modules-training"
    {
      swiftc "${FLAGS[@]}" -Xcc -march=x86-64-v3 -Xcc -fno-math-errno -module-name NeuralNet -emit-library -static \
        -emit-module -emit-module-path "$B/modules-training/NeuralNet.swiftmodule" "${inc[@]}" "${neuralnet[@]}" \
        -o "$B/libNeuralNetFuzz.a" &&
      swiftc "${FLAGS[@]}" -module-name Training -emit-library -static -emit-module \
        -emit-module-path "$B/modules-training/Training.swiftmodule" "${inc[@]}" "${training[@]}" -o "$B/libTrainingFuzz.a" &&
      swiftc "${FLAGS[@]}" -module-name ModelFuzz "${inc[@]}" "${harness[@]}" "$B/libTrainingFuzz.a" "$B/libNeuralNetFuzz.a" \
        "${objects[@]}" -lz -lopenblas -lstdc++ -o "$B/models"
    } > "$log" 2>&1 || { grep -v "Cannot export local symbol" "$log"; return 1; }
  fi
  for t in model checkpoint; do ln -sf models "$B/$t"; done
}

# Which binary each target is, and its longest input.
declare -A MAX_LEN=([wire]=8192 [png]=16384 [gzip]=16384 [idx]=16384 [multipart]=16384 [predict]=16384
                    [model]=16384 [checkpoint]=16384)
need_decoders=0; need_models=0
for t in "${TARGETS[@]}"; do
  case $t in
    wire) build_wire ;;
    model|checkpoint) need_models=1 ;;
    *) need_decoders=1 ;;
  esac
done
[ $need_decoders -eq 0 ] || build_decoders
[ $need_models -eq 0 ] || build_models
[ $BUILD_ONLY -eq 0 ] || { echo "fuzz: built ${TARGETS[*]} in $B"; exit 0; }

WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
python3 scripts/fuzz-corpus.py "$WORK/seeds"
failed=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$WORK/$t"
  for d in "$WORK/seeds/$t" "Fuzz/corpus/$t"; do
    [ ! -d "$d" ] || cp "$d"/* "$WORK/$t"/
  done
  [ -n "$(ls "$WORK/$t")" ] || { echo "fuzz: no seeds for $t" >&2; exit 1; }
  log="$B/last-run-$t.log"
  dict=(); [ ! -f "Fuzz/dict/$t.dict" ] || dict=(-dict="Fuzz/dict/$t.dict")
  set +e
  "$B/$t" "$WORK/$t" "${dict[@]}" -max_total_time="$SECONDS_TO_RUN" -max_len="${MAX_LEN[$t]}" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="Fuzz/crashes/$t-" -print_final_stats=1 > "$log" 2>&1
  status=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" || true)
  cov=$(grep -E "^#[0-9]+[[:space:]]" "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 edges, \2 features/p' || true)
  if [ $status -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz: $t FAILED (status $status) after ${execs:-?} executions; input in Fuzz/crashes/" >&2
    failed+=("$t")
  else
    echo "fuzz: $t ${SECONDS_TO_RUN} s, ${execs:-?} executions, ${cov:-coverage unknown}, $(ls "$WORK/$t" | wc -l) corpus entries, no crash"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
