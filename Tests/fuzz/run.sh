#!/usr/bin/env bash
# Builds the fuzz targets against the instrumented library of `make asan-lib` and runs
# each for SECONDS under libFuzzer, then triages what it found.
#
#   bash Tests/fuzz/run.sh SECONDS [TARGET...]   (default: all five; make fuzz, make fuzz-smoke)
#
# Targets (Tests/fuzz/README.md): fuzz_model_file, fuzz_store_file (the HDF5 readers, via
# the C API), fuzz_npy, fuzz_inter (the dataset readers, via LD4MRecStorage's
# Dataset.load), fuzz_capi (random sequences of C API calls). Corpora grow across runs in
# .build-asan/fuzz/corpus/<target> (started from Tests/fuzz/seeds/<target>); each run's
# findings go to .build-asan/fuzz/artifacts/<target>/<time>/.
#
# libFuzzer runs in fork mode (-fork=1 -ignore_crashes=1 ...), so that a crash does not
# end the run. Every finding is replayed alone and classified: a crash, leak, timeout or
# out-of-memory whose report lies inside libhdf5 counts as "libhdf5" (bugs of libhdf5
# 1.10.8 on malformed files that the library cannot prevent: docs/TESTING.md); any other
# is the library's and fails the run, as does a finding that does not reproduce alone,
# except in the two targets that feed libhdf5 malformed files: there libhdf5's own heap
# overflows, which AddressSanitizer cannot see in uninstrumented code, corrupt the heap
# for later inputs of the same process, so a report may belong to an earlier input; such
# findings are listed (and kept) but do not fail the run. Prints one line per target.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
SECONDS_PER_TARGET=${1:?usage: $0 SECONDS [TARGET...]}
shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_model_file fuzz_store_file fuzz_npy fuzz_inter fuzz_capi)

TOOLCHAIN=$(dirname "$(readlink -f "$(command -v swift)")")
SCRATCH=$ROOT/.build-asan
BUILD=$SCRATCH/x86_64-unknown-linux-gnu/release
FUZZ=$SCRATCH/fuzz
LIB=$SCRATCH/lib
[ -e "$LIB/libld4mrec.so.1" ] || { echo "fuzz: $LIB/libld4mrec.so.1 is missing (make asan-lib)"; exit 1; }
mkdir -p "$FUZZ/bin" "$FUZZ/corpus" "$FUZZ/artifacts"

export SWIFT_BACKTRACE=enable=no   # a Swift runtime error reaches the sanitizer as it is
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export LSAN_OPTIONS=suppressions=$ROOT/Tests/fuzz/lsan.supp
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
bash Tests/fuzz/models.sh "$FUZZ/models" || exit 1
export LD4MREC_FUZZ_MODEL=$FUZZ/models/a.h5 LD4MREC_FUZZ_MODEL_B=$FUZZ/models/b.h5

build() {
    local target=$1
    case $target in
    fuzz_npy | fuzz_inter)
        # Swift targets: LD4MRecStorage's instrumented objects, linked in directly (the
        # library exports only the C API).
        "$TOOLCHAIN/swiftc" -parse-as-library -O -g -sanitize=fuzzer,address -use-ld=lld -module-name "$target" \
            "Tests/fuzz/$target.swift" Tests/fuzz/fuzz_support.swift -I "$BUILD/Modules" \
            -Xcc -fmodule-map-file="$ROOT/Include/module.modulemap" \
            -Xcc -fmodule-map-file="$ROOT/Sources/CLD4MRecBLAS/module.modulemap" \
            -Xcc -fmodule-map-file="$ROOT/Sources/CLD4MRecHDF5/module.modulemap" \
            -Xcc -fmodule-map-file="$BUILD/CLD4MRecKernels.build/module.modulemap" \
            -Xcc -I"$ROOT/Sources/CLD4MRecKernels/include" \
            $(pkg-config --cflags-only-I hdf5 openblas | sed 's/-I/-Xcc -I/g') \
            "$BUILD"/LD4MRecCore.build/*.o "$BUILD"/LD4MRecStorage.build/*.o "$BUILD"/CLD4MRecKernels.build/*.o \
            $(pkg-config --libs hdf5 openblas) -o "$FUZZ/bin/$target"
        ;;
    *)
        "$TOOLCHAIN/clang" -fuse-ld=lld -std=c11 -g -O1 -Wall -Wextra -Werror \
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I Include "Tests/fuzz/$target.c" \
            -L "$LIB" -lld4mrec "-Wl,-rpath,$LIB" -lm -o "$FUZZ/bin/$target"
        ;;
    esac
}

# The sanitizer report of one finding, replayed alone: "libhdf5" if it lies inside
# libhdf5, else "library".
classify() {
    local target=$1 input=$2 report
    report=$("$FUZZ/bin/$target" -runs=1 -timeout=10 -rss_limit_mb=2048 "$input" 2>&1)
    # The summary names where it happened (crash, leak); for timeouts and out-of-memory
    # the first frames of the stack printed with it do.
    if printf '%s\n' "$report" | grep -E '^SUMMARY: ' | grep -q 'libhdf5'; then
        echo libhdf5
    elif printf '%s\n' "$report" | grep -E '^ +#[0-9]+ ' | grep -v -E 'libclang_rt|compiler-rt|libFuzzer|fuzzer::' |
        head -4 | grep -q 'libhdf5'; then
        echo libhdf5
    elif ! printf '%s\n' "$report" | grep -qE 'ERROR|SUMMARY|ALARM|out-of-memory|Timeout|deadly'; then
        echo "not reproduced alone"
    else
        echo library
    fi
}

status=0
printf '%-16s %10s %8s %8s %8s %s\n' target executions cov ft corpus findings
for target in "${TARGETS[@]}"; do
    build "$target" || { echo "fuzz: cannot build $target"; status=1; continue; }
    corpus=$FUZZ/corpus/$target
    artifacts=$FUZZ/artifacts/$target/$(date +%Y%m%d-%H%M%S)
    mkdir -p "$corpus" "$artifacts"
    log=$FUZZ/$target.log
    calls=$FUZZ/$target.calls
    rm -f "$calls"
    LD4MREC_FUZZ_CALLS=$calls "$FUZZ/bin/$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" "$corpus" "Tests/fuzz/seeds/$target" >"$log" 2>&1
    # Fork mode's status lines: "#<executions>: cov: <n> ft: <n> corp: <n> ...".
    last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
    execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
    cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$last")
    ft=$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$last")
    corp=$(sed -E 's/.* corp: ([0-9]+).*/\1/' <<<"$last")
    findings=""
    for finding in "$artifacts"/*; do
        [ -e "$finding" ] || continue
        kind=$(classify "$target" "$finding")
        findings+=" $(basename "$finding")=$kind"
        case $kind:$target in
        libhdf5:* | "not reproduced alone:fuzz_model_file" | "not reproduced alone:fuzz_store_file") ;;
        *) status=1 ;;
        esac
    done
    extra=""
    [ -e "$calls" ] && extra=" ($(awk '{ s += $1 } END { print s }' "$calls") API calls)"
    printf '%-16s %10s %8s %8s %8s%s\n' "$target" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
        "${findings:- none}$extra"
    [ -n "$last" ] || { echo "fuzz: $target did not run: see $log"; status=1; }
done
exit $status
