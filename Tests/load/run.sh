#!/usr/bin/env bash
# The load test of swapping models (Tests/load/swap_test.cpp): synthesizes two models
# whose catalogues overlap, differ and are ordered differently, builds swap_test and runs
# it for SECONDS (default 10) with 4 readers, 3 writers and a swap every 300 ms.
#
#   bash Tests/load/run.sh [SECONDS]
#
# The environment chooses the build (make swap-test and make tsan-test set it):
#   LIB_DIR     the folder holding libld4mrec.so.1 (default dist/lib)
#   CXX         the C++ compiler (default g++)
#   CXXFLAGS    extra flags, e.g. -fsanitize=thread
#   LDLIBS      extra libraries
#   POOL_EVERY  one request in POOL_EVERY runs on two pool threads (default 4; 0: none)
# Needs dist/bin/ld4mrec (make build). Prints swap_test's summary line; exits with its status.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
SECONDS_TO_RUN=${1:-10}
LIB_DIR=${LIB_DIR:-$ROOT/dist/lib}
CXX=${CXX:-g++}
read -r -a EXTRA_FLAGS <<<"${CXXFLAGS:-}"
read -r -a EXTRA_LIBS <<<"${LDLIBS:-}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ld4mrec-swap.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

# Model A: items 1000, 1007, ..., 1000 + 7 * 1199. Model B: 1300 items in descending id
# order from 1000 + 7 * 1399 down to 1000 + 7 * 100: 100 of A's items gone, 200 new.
dist/bin/ld4mrec synthesize --out "$WORK/a.h5" --items 1200 --users 120 --hidden 48 --seed 1 >/dev/null &&
    dist/bin/ld4mrec synthesize --out "$WORK/b.h5" --items 1300 --users 150 --hidden 48 --seed 2 \
        --first-item-id $((1000 + 7 * 1399)) --item-id-step=-7 >/dev/null ||
    { echo "swap-test: cannot synthesize the models (run 'make build')"; exit 1; }

"$CXX" -std=c++17 -O2 -g -Wall -Wextra -Werror -pedantic "${EXTRA_FLAGS[@]}" -I Include -I Bindings/cpp \
    Tests/load/swap_test.cpp -L "$LIB_DIR" -lld4mrec "-Wl,-rpath,$LIB_DIR" -pthread "${EXTRA_LIBS[@]}" \
    -o "$WORK/swap_test" || { echo "swap-test: build failed"; exit 1; }

"$WORK/swap_test" "$WORK/a.h5" "$WORK/b.h5" --seconds "$SECONDS_TO_RUN" --readers 4 --writers 3 \
    --swap-ms 300 --pool-every "${POOL_EVERY:-4}" --save "$WORK/store.h5"
