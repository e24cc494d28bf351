#!/usr/bin/env bash
# Checks that the code keeps the architecture of README.md's "Layout":
#   - each target imports only the modules its layer may use (the arrows of Package.swift);
#   - file IO (stdio, POSIX file calls, HDF5) happens only in LD4MRecStorage;
#   - the version is written only in Include/ld4mrec.h.
# Usage: bash Tests/architecture/check.sh   (from any folder). Prints `architecture: N passed, M failed`.
set -u
cd "$(dirname "$0")/../.." || exit 1

passed=0
failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

# target: the modules it may import (besides Glibc).
declare -A allowed=(
    [LD4MRecCore]="CLD4MRecBLAS CLD4MRecKernels CLD4MRec Synchronization"
    [LD4MRecStorage]="LD4MRecCore CLD4MRecHDF5"
    [LD4MRecServing]="LD4MRecCore LD4MRecStorage"
    [LD4MRecTraining]="LD4MRecCore LD4MRecServing CLD4MRecBLAS"
    [LD4MRec]="LD4MRecCore LD4MRecStorage LD4MRecServing LD4MRecTraining"
    [LD4MRecCABI]="CLD4MRec LD4MRecCore LD4MRecStorage LD4MRecServing"
    [LD4MRecCLI]="ArgumentParser LD4MRec"
    [LD4MRecBenchmark]="LD4MRec CLD4MRecBLAS"
)

for target in Sources/*/; do
    target=$(basename "$target")
    case $target in CLD4MRec*) continue ;; esac
    if [ -z "${allowed[$target]+set}" ]; then
        fail "$target: a target the architecture check does not know (add it to Tests/architecture/check.sh)"
        continue
    fi
    bad=$(grep -rhoE '^\s*(@_exported |@testable )?import [A-Za-z0-9_]+' "Sources/$target" --include='*.swift' |
        awk '{ print $NF }' | sort -u | while read -r module; do
            [ "$module" = Glibc ] && continue
            case " ${allowed[$target]} " in *" $module "*) ;; *) echo "$module" ;; esac
        done)
    if [ -z "$bad" ]; then
        pass "$target imports only: ${allowed[$target]}"
    else
        fail "$target imports $(echo $bad) (allowed: ${allowed[$target]})"
    fi
done

# File IO: C stdio and POSIX file calls, and libhdf5 (H5 functions).
io='\b(fopen|fread|fwrite|fputs|fclose|opendir|readdir|mkdir|mkdtemp|unlink|rename|fsync|stat|access|H5[A-Z][a-z]*_?[a-z0-9_]*)\('
hits=$(grep -rnE "$io" Sources --include='*.swift' | grep -v '^Sources/LD4MRecStorage/' | grep -vE ':\s*//')
if [ -z "$hits" ]; then
    pass "file IO only in LD4MRecStorage"
else
    fail "file IO outside LD4MRecStorage:"
    echo "$hits" | sed 's/^/    /'
fi

# The version: only the header spells it out.
hits=$(grep -rnE '"[0-9]+\.[0-9]+\.[0-9]+"' Sources Bindings --include='*.swift' --include='*.py' --include='*.hpp' | grep -v 'e.g.' || true)
if [ -z "$hits" ]; then
    pass "no version literal outside Include/ld4mrec.h"
else
    fail "version literals outside Include/ld4mrec.h:"
    echo "$hits" | sed 's/^/    /'
fi

echo "architecture: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
