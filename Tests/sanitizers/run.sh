#!/usr/bin/env bash
# Runs the C ABI tests, the examples and the swap load test under a dynamic checker:
#
#   bash Tests/sanitizers/run.sh asan      AddressSanitizer + UndefinedBehaviorSanitizer:
#                                          capi_test, hpp_test, v010_caller, the C and C++
#                                          examples and a short swap test, against the
#                                          instrumented library of `make asan-lib`
#   bash Tests/sanitizers/run.sh tsan [S]  ThreadSanitizer: the 8-thread swap test (readers,
#                                          writers, swaps) for S seconds (default 20),
#                                          against the library of `make tsan-lib`; one
#                                          request in $POOL_EVERY on the library's thread
#                                          pool (default 0: none; see the Makefile)
#   bash Tests/sanitizers/run.sh valgrind  the C and C++ examples under valgrind
#                                          --leak-check=full, against dist/lib
#
# Every report fails the run: sanitizers abort at the first error
# (-fno-sanitize-recover=all, halt_on_error), valgrind exits with status 1 on any error
# or definite/possible leak outside Tests/valgrind.supp. The Swift runtime's backtracer
# is switched off (SWIFT_BACKTRACE=enable=no) so that a Swift runtime error reaches the
# sanitizer as it is. Prints `<mode>: N passed, M failed`.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
MODE=${1:-}
TOOLCHAIN=$(dirname "$(readlink -f "$(command -v swift)")")
CLANG=$TOOLCHAIN/clang
CLANGXX=$TOOLCHAIN/clang++
SWIFT_RUNTIME=$TOOLCHAIN/../lib/swift/linux
export SWIFT_BACKTRACE=enable=no

passed=0
failed=0
run() {
    local name=$1
    shift
    echo "=== $name"
    if "$@"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        failed=$((failed + 1))
    fi
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ld4mrec-$MODE.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

synthesize() {
    dist/bin/ld4mrec synthesize --out "$WORK/model.h5" --items 300 --users 60 --hidden 32 --svd-rank 8 \
        --step-embedding 10 --blocks 2 --film-hidden 16 --modalities image:16,audio:8 --seed 1 >/dev/null &&
        dist/bin/ld4mrec synthesize --out "$WORK/small.h5" --items 100 --users 60 --seed 2 >/dev/null
}

case $MODE in
asan)
    LIB=$ROOT/.build-asan/lib
    [ -e "$LIB/libld4mrec.so.1" ] || { echo "asan: $LIB/libld4mrec.so.1 is missing (make asan-lib)"; exit 1; }
    SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1 -fuse-ld=lld)
    LINK=(-L "$LIB" -lld4mrec "-Wl,-rpath,$LIB")
    export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    run "synthesize the test models" synthesize
    mkdir -p "$WORK/capi" "$WORK/stub"
    run "capi_test (C API tests)" bash -c "
        '$CLANG' -std=c99 -Wall -Wextra -Werror ${SAN[*]} -I Include Tests/abi/capi_test.c ${LINK[*]} -pthread -lm \
            -o '$WORK/capi_test' && '$WORK/capi_test' '$WORK/model.h5' '$WORK/small.h5' '$WORK/capi' | tail -3"
    run "hpp_test (C++ binding)" bash -c "
        '$CLANGXX' -std=c++17 -Wall -Wextra -Werror ${SAN[*]} -I Include -I Bindings/cpp Tests/abi/hpp_test.cpp \
            ${LINK[*]} -o '$WORK/hpp_test' && '$WORK/hpp_test' '$WORK/model.h5' '$WORK/capi'"
    # A 0.1.0 binary (linked against an unversioned stub) on the instrumented library.
    run "v010_caller (a binary built against 0.1.0)" bash -c "
        sed -n 's/.*LD4MREC_API[^(]*\\b\\(ld4mrec_[a-z0-9_]*\\)(.*/void \\1(void) {}/p' Tests/abi/v0.1.0/ld4mrec.h \
            >'$WORK/stub/stub.c' &&
        '$CLANG' -shared -fPIC -Wl,-soname,libld4mrec.so.1 '$WORK/stub/stub.c' -o '$WORK/stub/libld4mrec.so.1' &&
        ln -sf libld4mrec.so.1 '$WORK/stub/libld4mrec.so' &&
        '$CLANG' -std=c99 -Wall -Wextra -Werror ${SAN[*]} -I Tests/abi/v0.1.0 Tests/abi/v010_caller.c \
            -L '$WORK/stub' -lld4mrec '-Wl,-rpath,$LIB' -o '$WORK/v010_caller' &&
        '$WORK/v010_caller' '$WORK/model.h5'"
    run "C example" bash -c "
        '$CLANG' -std=c99 -Wall -Wextra -Werror ${SAN[*]} -I Include Examples/c/recommend.c ${LINK[*]} \
            -o '$WORK/recommend-c' && '$WORK/recommend-c' '$WORK/model.h5' >'$WORK/c.log' && tail -2 '$WORK/c.log'"
    run "C++ example" bash -c "
        '$CLANGXX' -std=c++17 -Wall -Wextra -Werror ${SAN[*]} -I Include -I Bindings/cpp Examples/cpp/recommend.cpp \
            ${LINK[*]} -o '$WORK/recommend-cpp' && '$WORK/recommend-cpp' '$WORK/model.h5' >'$WORK/cpp.log' &&
            tail -2 '$WORK/cpp.log'"
    run "swap test (5 s)" env LIB_DIR="$LIB" CXX="$CLANGXX" CXXFLAGS="${SAN[*]}" bash Tests/load/run.sh 5
    ;;
tsan)
    LIB=$ROOT/.build-tsan/lib
    [ -e "$LIB/libld4mrec.so.1" ] || { echo "tsan: $LIB/libld4mrec.so.1 is missing (make tsan-lib)"; exit 1; }
    # halt_on_error: the first race fails the run. The library's locks are pthread locks,
    # which TSan sees (docs/TESTING.md); nothing is suppressed.
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    run "swap test under ThreadSanitizer (${2:-20} s, 8 threads)" env POOL_EVERY="${POOL_EVERY:-0}" LIB_DIR="$LIB" CXX="$CLANGXX" \
        CXXFLAGS="-fsanitize=thread -O1 -fuse-ld=lld" LDLIBS="-L$SWIFT_RUNTIME -ldispatch -lBlocksRuntime -Wl,-rpath,$SWIFT_RUNTIME" \
        bash Tests/load/run.sh "${2:-20}"
    ;;
valgrind)
    [ -e dist/lib/libld4mrec.so.1 ] || { echo "valgrind: dist/lib is missing (make build)"; exit 1; }
    # Valgrind 3.19 cannot read the DWARF 5 that the Swift toolchain's clang writes: it
    # gets the release library without its debug sections (symbols stay).
    mkdir -p "$WORK/lib"
    objcopy --strip-debug dist/lib/libld4mrec.so.1 "$WORK/lib/libld4mrec.so.1"
    LINK=(-I Include -L "$WORK/lib" -l:libld4mrec.so.1 "-Wl,-rpath,$WORK/lib")
    VALGRIND=(valgrind --leak-check=full --errors-for-leak-kinds=definite,possible --error-exitcode=1
              --suppressions=Tests/valgrind.supp --gen-suppressions=all --num-callers=30)
    run "synthesize the test model" synthesize
    run "C example under valgrind" bash -c "
        gcc -std=c99 -g -Wall -Wextra -Werror Examples/c/recommend.c ${LINK[*]} -o '$WORK/recommend-c' &&
        ${VALGRIND[*]} '$WORK/recommend-c' '$WORK/model.h5' >'$WORK/c.log' 2>'$WORK/c.valgrind';
        status=\$?; grep -E 'ERROR SUMMARY|definitely lost|possibly lost|suppressed:' '$WORK/c.valgrind';
        [ \$status -eq 0 ] || cat '$WORK/c.valgrind'; exit \$status"
    run "C++ example under valgrind" bash -c "
        g++ -std=c++17 -g -Wall -Wextra -Werror -I Bindings/cpp Examples/cpp/recommend.cpp ${LINK[*]} \
            -o '$WORK/recommend-cpp' &&
        ${VALGRIND[*]} '$WORK/recommend-cpp' '$WORK/model.h5' >'$WORK/cpp.log' 2>'$WORK/cpp.valgrind';
        status=\$?; grep -E 'ERROR SUMMARY|definitely lost|possibly lost|suppressed:' '$WORK/cpp.valgrind';
        [ \$status -eq 0 ] || cat '$WORK/cpp.valgrind'; exit \$status"
    ;;
*)
    echo "usage: $0 asan | tsan [SECONDS] | valgrind" >&2
    exit 2
    ;;
esac

echo "$MODE: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
