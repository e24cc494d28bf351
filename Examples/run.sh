#!/usr/bin/env bash
# Builds and runs every example (C, C++, Python, Swift) against a model synthesized into a
# temporary folder, and checks that each one prints recommendations.
# Needs `make build` first. Usage: bash Examples/run.sh   (from any folder); the Python
# example runs with $PYTHON (default python3), which needs numpy (`make examples` uses .venv).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD

N_ITEMS=300  # synthesized item ids: 1000, 1007, ..., 1000 + 7 * (N_ITEMS - 1)

if [ ! -e dist/lib/libld4mrec.so ] || [ ! -x dist/bin/ld4mrec ]; then
    echo "examples: dist/ is incomplete: run 'make build' first" >&2
    echo "examples: 0 passed, 1 failed"
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ld4mrec-examples.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
MODEL=$WORK/model.h5

passed=0
failed=0
skipped=0

# True if the file has a line holding an item id of the synthesized model as a whole
# number (not part of a decimal such as a score).
has_item_line() {
    awk -v n="$N_ITEMS" '
        {
            line = $0
            gsub(/[^0-9.-]+/, " ", line)
            count = split(line, tokens, " ")
            for (i = 1; i <= count; i++) {
                if (tokens[i] !~ /^[0-9]+$/) continue
                x = tokens[i] + 0
                if (x >= 1000 && x < 1000 + 7 * n && (x - 1000) % 7 == 0) found = 1
            }
        }
        END { exit found ? 0 : 1 }' "$1"
}

# run_example NAME COMMAND...: runs it, shows its output, checks status and output.
run_example() {
    local name=$1
    shift
    local log=$WORK/$name.log
    echo "=== $name: $*"
    "$@" >"$log" 2>&1
    local status=$?
    sed 's/^/    /' "$log"
    if [ "$status" -ne 0 ]; then
        echo "FAIL $name: exit status $status"
        failed=$((failed + 1))
    elif ! has_item_line "$log"; then
        echo "FAIL $name: no line with an item id of the model in its output"
        failed=$((failed + 1))
    else
        echo "ok   $name"
        passed=$((passed + 1))
    fi
}

# build_step NAME COMMAND...: a compile step; a failure counts against the example.
build_step() {
    local name=$1
    shift
    echo "=== build $name: $*"
    if ! "$@"; then
        echo "FAIL $name: build failed"
        failed=$((failed + 1))
        return 1
    fi
}

skip() {
    echo "=== $1"
    echo "skip $1: $2"
    skipped=$((skipped + 1))
}

echo "=== synthesizing a model into $MODEL"
if ! dist/bin/ld4mrec synthesize --out "$MODEL" --items "$N_ITEMS" --users 60 --seed 7; then
    echo "examples: 0 passed, 1 failed (cannot synthesize a model)"
    exit 1
fi

LINK=(-I Include -L dist/lib -lld4mrec "-Wl,-rpath,$ROOT/dist/lib")

# C
if build_step c gcc -std=c99 -Wall -Wextra -Werror -pedantic Examples/c/recommend.c \
    "${LINK[@]}" -o "$WORK/recommend-c"; then
    run_example c "$WORK/recommend-c" "$MODEL"
fi

# C++
if build_step cpp g++ -std=c++17 -Wall -Wextra -Werror -pedantic -I Bindings/cpp \
    Examples/cpp/recommend.cpp "${LINK[@]}" -o "$WORK/recommend-cpp"; then
    run_example cpp "$WORK/recommend-cpp" "$MODEL"
fi

# Python
if [ -f Examples/python/recommend.py ]; then
    run_example python env PYTHONPATH="$ROOT/Bindings/python" "${PYTHON:-python3}" \
        Examples/python/recommend.py "$MODEL"
else
    skip python "Examples/python/recommend.py does not exist yet"
fi

# Swift (a stub of one line, `import LD4MRec`, is not an example yet)
if [ -f Examples/swift/main.swift ] &&
    [ "$(grep -cv '^[[:space:]]*$' Examples/swift/main.swift)" -gt 1 ]; then
    run_example swift swift run -c release SwiftExample "$MODEL"
else
    skip swift "Examples/swift/main.swift is still a stub"
fi

summary="examples: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
