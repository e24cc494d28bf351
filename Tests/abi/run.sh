#!/usr/bin/env bash
# ABI checks of the built library (dist/, from `make build`):
#   - Include/ld4mrec.h compiles as strict C99 and as C++17, every function with the
#     expected signature (header_check.c); Bindings/cpp/ld4mrec.hpp compiles as strict C++17
#     and agrees with the C API (hpp_test.cpp);
#   - the exported symbols of dist/lib/libld4mrec.so are exactly the header's LD4MREC_API
#     functions, and the SONAME is libld4mrec.so.<LD4MREC_ABI_VERSION>;
#   - the C API tests (capi_test.c) against synthesized models, a program built against
#     the 0.1.0 header (v010_caller.c), and the C fuzz targets replaying their seeds and
#     regression inputs (Tests/fuzz).
# Usage: bash Tests/abi/run.sh   (from any folder). Prints `abi: N passed, M failed`.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD

HEADER=Include/ld4mrec.h
LIB=dist/lib/libld4mrec.so
CLI=dist/bin/ld4mrec
CFLAGS=(-std=c99 -Wall -Wextra -Werror -pedantic)
CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic)
LINK=(-L dist/lib -lld4mrec "-Wl,-rpath,$ROOT/dist/lib")

passed=0
failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
finish() {
    echo "abi: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

# check NAME COMMAND...: one check; the command's output is shown indented.
check() {
    local name=$1
    shift
    local output
    if output=$("$@" 2>&1); then
        [ -n "$output" ] && printf '%s\n' "$output" | sed 's/^/    /'
        pass "$name"
    else
        [ -n "$output" ] && printf '%s\n' "$output" | sed 's/^/    /'
        fail "$name"
    fi
}

for needed in "$LIB" "$CLI" dist/include/ld4mrec.h; do
    if [ ! -e "$needed" ]; then
        fail "$needed exists (run 'make build' first)"
        finish
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ld4mrec-abi.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------
# The header and the C++ binding compile
# ---------------------------------------------------------------------------------------

check "header compiles as C99 (${CFLAGS[*]}) and links" \
    gcc "${CFLAGS[@]}" -I Include Tests/abi/header_check.c "${LINK[@]}" -o "$WORK/header_c"
check "header_check (C) runs" "$WORK/header_c"
check "header compiles as C++17 (${CXXFLAGS[*]}) and links" \
    g++ -x c++ "${CXXFLAGS[@]}" -I Include Tests/abi/header_check.c "${LINK[@]}" \
    -o "$WORK/header_cpp"
check "header_check (C++) runs" "$WORK/header_cpp"
check "dist/include/ld4mrec.h is Include/ld4mrec.h" cmp "$HEADER" dist/include/ld4mrec.h
check "ld4mrec.hpp compiles as C++17 (${CXXFLAGS[*]})" \
    g++ "${CXXFLAGS[@]}" -I Include -I Bindings/cpp Tests/abi/hpp_test.cpp "${LINK[@]}" \
    -o "$WORK/hpp_test"

# ---------------------------------------------------------------------------------------
# Exported symbols and SONAME
# ---------------------------------------------------------------------------------------

# Functions declared LD4MREC_API (declarations may span lines).
tr '\n' ' ' <"$HEADER" | grep -oE 'LD4MREC_API[^;(]*\(' |
    grep -oE '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\($' | tr -d ' (' |
    grep '^ld4mrec_' | sort -u >"$WORK/declared"
# Global defined dynamic symbols (uppercase nm types), without version suffixes; the
# symbol versions' own names (absolute, type A) are checked below.
nm -D --defined-only "$LIB" | awk 'NF >= 3 && $2 ~ /^[B-Z]$/ { print $3 }' | sed 's/@.*//' |
    sort -u >"$WORK/exported"

compare_symbols() {
    local missing leaked
    missing=$(comm -23 "$WORK/declared" "$WORK/exported")
    leaked=$(comm -13 "$WORK/declared" "$WORK/exported")
    [ -n "$missing" ] && echo "declared in $HEADER but not exported:" && echo "$missing"
    [ -n "$leaked" ] && echo "exported but not declared in $HEADER:" && echo "$leaked"
    [ -z "$missing" ] && [ -z "$leaked" ]
}
check "exported symbols = the $(wc -l <"$WORK/declared") LD4MREC_API functions, nothing else" \
    compare_symbols

# Symbol versions (Sources/LD4MRecCABI/exports.map): every function in LD4MREC_0.1, the
# version an unversioned reference (a binary linked against 0.1.0) binds to; the
# by-value ld4mrec_recommend_params_default once per struct layout, the newest default.
symbol_versions_are_right() {
    local versions
    versions=$(nm -D --defined-only "$LIB" | awk 'NF >= 3 && $2 ~ /^[B-Z]$/ { print $3 }' | grep '^ld4mrec_')
    printf '%s\n' "$versions" | grep -v '^ld4mrec_recommend_params_default@' |
        grep -v '@@LD4MREC_0\.1$' && { echo "functions above are not in LD4MREC_0.1"; return 1; }
    [ "$(printf '%s\n' "$versions" | grep '^ld4mrec_recommend_params_default@' | sort | tr '\n' ' ')" = \
        "ld4mrec_recommend_params_default@@LD4MREC_0.2 ld4mrec_recommend_params_default@LD4MREC_0.1 " ] ||
        { echo "ld4mrec_recommend_params_default is not @LD4MREC_0.1 plus @@LD4MREC_0.2"; return 1; }
}
check "symbol versions: LD4MREC_0.1 for all, ld4mrec_recommend_params_default also @@LD4MREC_0.2" \
    symbol_versions_are_right

count_matches_header_check() {
    local listed
    local listed declared
    listed=$(sed -n 's/^#define N_FUNCTIONS \([0-9]*\).*/\1/p' Tests/abi/header_check.c)
    declared=$(wc -l <"$WORK/declared")
    [ "$listed" = "$declared" ] ||
        { echo "header_check.c covers $listed functions, the header declares $declared"; false; }
}
check "header_check.c covers every declared function" count_matches_header_check

abi_version=$(sed -n 's/^#define LD4MREC_ABI_VERSION \([0-9]*\).*/\1/p' "$HEADER")
soname_is_right() {
    local soname
    soname=$(readelf -d "$LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
    [ "$soname" = "libld4mrec.so.$abi_version" ] ||
        { echo "SONAME is '$soname', expected libld4mrec.so.$abi_version"; false; }
}
check "SONAME is libld4mrec.so.$abi_version" soname_is_right
symlink_is_right() {
    [ "$(readlink dist/lib/libld4mrec.so)" = "libld4mrec.so.$abi_version" ] &&
        [ -f "dist/lib/libld4mrec.so.$abi_version" ] ||
        { echo "dist/lib/libld4mrec.so does not link to libld4mrec.so.$abi_version"; false; }
}
check "dist/lib/libld4mrec.so -> libld4mrec.so.$abi_version" symlink_is_right
# The pool's threads run the library's code for the life of the process: dlclose must
# not unmap it (a test that dlclosed it crashed in a starting worker).
not_unloadable() {
    readelf -d "$LIB" | grep -q 'FLAGS_1.*NODELETE' || { echo "libld4mrec lacks DF_1_NODELETE (-z nodelete)"; false; }
}
check "the library is linked -z nodelete" not_unloadable

# ---------------------------------------------------------------------------------------
# Tests against synthesized models
# ---------------------------------------------------------------------------------------

MODEL=$WORK/model.h5
SMALL=$WORK/small.h5
check "synthesize the test models" bash -c "
    '$CLI' synthesize --out '$MODEL' --items 300 --users 60 --hidden 32 --svd-rank 8 \
        --step-embedding 10 --blocks 2 --film-hidden 16 --modalities image:16,audio:8 --seed 1 &&
    '$CLI' synthesize --out '$SMALL' --items 100 --users 60 --seed 2"

if [ -x "$WORK/hpp_test" ]; then
    check "ld4mrec.hpp wrappers (hpp_test)" timeout 300 "$WORK/hpp_test" "$MODEL" "$WORK"
fi

# A binary built against the 0.1.0 header and linked, as then, against a library without
# symbol versions (a stub with the same SONAME), run against this one.
v010_stub() {
    mkdir -p "$WORK/stub" &&
        sed -n 's/.*LD4MREC_API[^(]*\b\(ld4mrec_[a-z0-9_]*\)(.*/void \1(void) {}/p' \
            Tests/abi/v0.1.0/ld4mrec.h >"$WORK/stub/stub.c" &&
        gcc -shared -fPIC -Wl,-soname,libld4mrec.so.1 "$WORK/stub/stub.c" -o "$WORK/stub/libld4mrec.so.1" &&
        ln -sf libld4mrec.so.1 "$WORK/stub/libld4mrec.so" &&
        gcc "${CFLAGS[@]}" -I Tests/abi/v0.1.0 Tests/abi/v010_caller.c -L "$WORK/stub" -lld4mrec \
            "-Wl,-rpath,$ROOT/dist/lib" -o "$WORK/v010_caller"
}
if check "v010_caller.c builds against the 0.1.0 header and an unversioned library" v010_stub; then
    check "a 0.1.0 binary works with this library (v010_caller)" "$WORK/v010_caller" "$MODEL"
fi

# The C fuzz targets (Tests/fuzz) over their seeds and regression inputs, without libFuzzer:
# every input that once broke the library stays fixed, in the release build too.
replay_fuzz_target() {
    local target=$1 inputs=()
    gcc -std=c11 -O1 -g -Wall -Wextra -Werror -I Include Tests/fuzz/replay.c "Tests/fuzz/$target.c" "${LINK[@]}" -lm \
        -o "$WORK/replay_$target" || return 1
    for folder in "Tests/fuzz/seeds/$target" "Tests/fuzz/regressions/$target"; do
        [ -d "$folder" ] && inputs+=("$folder"/*)
    done
    LD4MREC_FUZZ_MODEL=$WORK/fuzz/a.h5 LD4MREC_FUZZ_MODEL_B=$WORK/fuzz/b.h5 TMPDIR=$WORK "$WORK/replay_$target" "${inputs[@]}"
}
if check "the fuzz targets' models" bash Tests/fuzz/models.sh "$WORK/fuzz"; then
    for target in fuzz_model_file fuzz_store_file fuzz_capi; do
        check "$target replays its seeds and regression inputs" replay_fuzz_target "$target"
    done
fi

if check "capi_test.c compiles (${CFLAGS[*]} -pthread)" \
    gcc "${CFLAGS[@]}" -O1 -g -I Include Tests/abi/capi_test.c "${LINK[@]}" -pthread -lm \
    -o "$WORK/capi_test"; then
    mkdir -p "$WORK/capi"
    check "C API tests (capi_test)" timeout 600 "$WORK/capi_test" "$MODEL" "$SMALL" "$WORK/capi"
fi

finish
