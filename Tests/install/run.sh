#!/usr/bin/env bash
# Installs ld4mrec as a user would and builds its consumers against the installed copy:
#   - make install PREFIX=<a temporary prefix holding another package's files and empty
#     folders>, and a staged install (DESTDIR, PREFIX=/usr/local) that must not leak the
#     staging folder;
#   - pkg-config --modversion and the CMake package report the header's version;
#   - a CMake project (find_package(ld4mrec 0.1 REQUIRED), ld4mrec::ld4mrec) and a Makefile
#     project (pkg-config --cflags --libs ld4mrec), each building the C and C++ examples;
#   - pip install ./Bindings/python into a fresh venv, and a wheel (pip wheel) into another,
#     each running the Python example from an unrelated folder with no PYTHONPATH;
#   - the Swift package Examples/swift-package, which depends on this one;
#   - make uninstall leaves both prefixes exactly as they were.
# Every consumer recommends from a model made by the installed CLI (ld4mrec synthesize).
# Needs `make build`, cmake, pkg-config and PyPI (numpy, into the venvs).
# Usage: bash Tests/install/run.sh   (from any folder). Prints `install: N passed, M failed`.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
PYTHON=${PYTHON:-python3}

VERSION=$(sed -n 's/^#define LD4MREC_VERSION_STRING "\(.*\)"/\1/p' Include/ld4mrec.h)
ABI_VERSION=$(sed -n 's/^#define LD4MREC_ABI_VERSION \([0-9]*\).*/\1/p' Include/ld4mrec.h)
N_ITEMS=300 # synthesized item ids: 1000, 1007, ..., 1000 + 7 * (N_ITEMS - 1)

passed=0
failed=0
pass() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
finish() {
    echo "install: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

# check NAME COMMAND...: one check; the command's output is shown indented.
check() {
    local name=$1
    shift
    local output status
    output=$("$@" 2>&1)
    status=$?
    [ -n "$output" ] && printf '%s\n' "$output" | sed 's/^/    /'
    if [ "$status" -eq 0 ]; then pass "$name"; else fail "$name"; fi
    return "$status"
}

if [ ! -x dist/bin/ld4mrec ] || [ ! -e "dist/lib/libld4mrec.so.$ABI_VERSION" ]; then
    fail "dist/ is complete (run 'make build' first)"
    finish
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ld4mrec-install.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
PREFIX=$WORK/prefix
STAGE=$WORK/stage
MODEL=$WORK/model.h5
ELSEWHERE=$WORK/elsewhere # an unrelated working folder for the Python runs
# The staged prefix does not exist yet: uninstall must remove it with the rest.
mkdir -p "$ELSEWHERE" "$STAGE/usr"

# The prefix already holds another package's files and, like Debian's /usr/local, empty
# folders: install and uninstall must leave them alone.
mkdir -p "$PREFIX/lib/pkgconfig" "$PREFIX/include" "$PREFIX/bin" "$PREFIX/share/doc/other"
echo other >"$PREFIX/lib/libother.so.2"
echo other >"$PREFIX/lib/pkgconfig/other.pc"
echo other >"$PREFIX/share/doc/other/README"

# Every file and folder under a root, with its type and mode.
listing() { (cd "$1" && find . -printf '%p %y %m\n' | sort); }
listing "$PREFIX" >"$WORK/prefix.before"
listing "$STAGE" >"$WORK/stage.before"

# At least ten output lines holding an item id of the synthesized model as a whole number
# (not part of a decimal such as a score): a top 10.
recommends() {
    awk -v n="$N_ITEMS" '
        {
            line = $0
            gsub(/[^0-9.-]+/, " ", line)
            count = split(line, tokens, " ")
            for (i = 1; i <= count; i++) {
                if (tokens[i] !~ /^[0-9]+$/) continue
                x = tokens[i] + 0
                if (x >= 1000 && x < 1000 + 7 * n && (x - 1000) % 7 == 0) { lines++; break }
            }
        }
        END { if (lines < 10) { print "no top 10 of item ids in the output"; exit 1 } }' "$1"
}

# run_consumer NAME COMMAND...: runs a consumer program on the model, shows its output and
# checks that it recommends.
run_consumer() {
    local name=$1
    shift
    local log=$WORK/$name.log
    "$@" >"$log" 2>&1
    local status=$?
    sed 's/^/    /' "$log"
    if [ "$status" -ne 0 ]; then
        fail "$name recommends (exit status $status)"
    elif recommends "$log"; then
        pass "$name recommends"
    else
        fail "$name recommends"
    fi
}

# links_installed PROGRAM: the program loads libld4mrec.so.1 from the prefix, not dist/.
links_installed() {
    local resolved
    resolved=$(ldd "$1" | awk '$1 == "libld4mrec.so.'"$ABI_VERSION"'" { print $3 }')
    [ "$resolved" = "$PREFIX/lib/libld4mrec.so.$ABI_VERSION" ] ||
        { echo "$1 loads '$resolved'"; false; }
}

# ---------------------------------------------------------------------------------------
# make install
# ---------------------------------------------------------------------------------------

echo "=== make install PREFIX=$PREFIX"
if ! check "make install PREFIX=$PREFIX" make -C "$ROOT" install PREFIX="$PREFIX"; then
    finish
fi

installed_files() {
    local missing=0 file
    for file in bin/ld4mrec "lib/libld4mrec.so.$ABI_VERSION" include/ld4mrec.h \
        include/ld4mrec.hpp lib/pkgconfig/ld4mrec.pc lib/cmake/ld4mrec/ld4mrecConfig.cmake \
        lib/cmake/ld4mrec/ld4mrecConfigVersion.cmake; do
        [ -f "$1/$file" ] || { echo "missing: $1/$file"; missing=1; }
    done
    [ "$(readlink "$1/lib/libld4mrec.so")" = "libld4mrec.so.$ABI_VERSION" ] ||
        { echo "$1/lib/libld4mrec.so does not link to libld4mrec.so.$ABI_VERSION"; missing=1; }
    cmp "$ROOT/Include/ld4mrec.h" "$1/include/ld4mrec.h" &&
        cmp "$ROOT/Bindings/cpp/ld4mrec.hpp" "$1/include/ld4mrec.hpp" || missing=1
    return "$missing"
}
check "the prefix holds the library, its link, both headers, the .pc, the CMake package, the CLI" \
    installed_files "$PREFIX"

cli_needs_no_toolchain() {
    ! ldd "$PREFIX/bin/ld4mrec" | grep libswift || { echo "^ the Swift runtime is not linked in"; false; }
}
check "the installed CLI does not load the Swift runtime from the toolchain" cli_needs_no_toolchain
check "the installed CLI synthesizes the model" \
    "$PREFIX/bin/ld4mrec" synthesize --out "$MODEL" --items "$N_ITEMS" --users 60 --seed 7 ||
    finish

echo "=== make install DESTDIR=$STAGE PREFIX=/usr/local"
if check "make install DESTDIR=$STAGE PREFIX=/usr/local" \
    make -C "$ROOT" install DESTDIR="$STAGE" PREFIX=/usr/local; then
    check "the staged tree is complete" installed_files "$STAGE/usr/local"
    staged_pc_names_prefix() {
        grep -qx 'prefix=/usr/local' "$STAGE/usr/local/lib/pkgconfig/ld4mrec.pc" ||
            { echo "ld4mrec.pc does not say prefix=/usr/local"; return 1; }
        ! grep -rl --binary-files=without-match "$STAGE" "$STAGE" ||
            { echo "^ these files name the staging folder"; return 1; }
    }
    check "the staged files name PREFIX, never DESTDIR" staged_pc_names_prefix
fi

# ---------------------------------------------------------------------------------------
# Versions: pkg-config and CMake
# ---------------------------------------------------------------------------------------

export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
modversion_is_header_version() {
    local reported
    reported=$(pkg-config --modversion ld4mrec) || return 1
    [ "$reported" = "$VERSION" ] || { echo "pkg-config says '$reported', the header $VERSION"; false; }
}
check "pkg-config --modversion ld4mrec = $VERSION" modversion_is_header_version
pkg_config_flags() {
    local cflags libs
    cflags=$(pkg-config --cflags ld4mrec) && libs=$(pkg-config --libs ld4mrec) || return 1
    echo "cflags: $cflags"
    echo "libs: $libs"
    [[ " $cflags " == *" -I$PREFIX/include "* ]] && [[ " $libs " == *" -L$PREFIX/lib "* ]] &&
        [[ " $libs " == *" -lld4mrec "* ]]
}
check "pkg-config --cflags --libs ld4mrec name the prefix" pkg_config_flags

# A project that only asks for the package: find_package(ld4mrec VERSION REQUIRED).
cmake_find() { # cmake_find PREFIX VERSION: configure output
    local project=$WORK/find-$RANDOM
    mkdir -p "$project"
    cat >"$project/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(find_ld4mrec LANGUAGES NONE)
find_package(ld4mrec $2 REQUIRED)
get_target_property(location ld4mrec::ld4mrec IMPORTED_LOCATION)
message(STATUS "found ld4mrec \${ld4mrec_VERSION} at \${location}")
EOF
    cmake -S "$project" -B "$project/build" -DCMAKE_PREFIX_PATH="$1"
}
cmake_reports_version() {
    local output
    output=$(cmake_find "$PREFIX" 0.1) || { echo "$output"; return 1; }
    grep -- "found ld4mrec" <<<"$output"
    grep -qx -- "-- found ld4mrec $VERSION at $PREFIX/lib/libld4mrec.so.$ABI_VERSION" <<<"$output"
}
check "CMake: find_package(ld4mrec 0.1) finds $VERSION in the prefix" cmake_reports_version
next_major=$((${VERSION%%.*} + 1))
cmake_refuses_next_major() {
    local output
    if output=$(cmake_find "$PREFIX" "$next_major.0"); then
        echo "find_package(ld4mrec $next_major.0) succeeded"
        return 1
    fi
    grep -A3 "not compatible\|Could not find" <<<"$output" | head -4
}
check "CMake: find_package(ld4mrec $next_major.0) is refused" cmake_refuses_next_major
cmake_finds_moved_tree() {
    local output
    output=$(cmake_find "$STAGE/usr/local" 0.1) || { echo "$output"; return 1; }
    grep -qx -- "-- found ld4mrec $VERSION at $STAGE/usr/local/lib/libld4mrec.so.$ABI_VERSION" \
        <<<"$output" || { echo "$output"; false; }
}
[ -d "$STAGE/usr/local/lib/cmake/ld4mrec" ] &&
    check "CMake: the staged tree, moved, is found where it is" cmake_finds_moved_tree

# ---------------------------------------------------------------------------------------
# C and C++ consumers
# ---------------------------------------------------------------------------------------

echo "=== CMake project Tests/install/cmake"
if check "CMake project configures and builds" bash -c "
        cmake -S Tests/install/cmake -B '$WORK/cmake-build' -DCMAKE_PREFIX_PATH='$PREFIX' &&
        cmake --build '$WORK/cmake-build'"; then
    for program in recommend_c recommend_cpp; do
        check "cmake $program loads the installed library" links_installed "$WORK/cmake-build/$program"
        run_consumer "cmake $program" "$WORK/cmake-build/$program" "$MODEL"
    done
fi

echo "=== Makefile project Tests/install/pkg-config"
mkdir -p "$WORK/pkg-config-build"
if check "pkg-config project builds" \
    make -f Tests/install/pkg-config/Makefile OUT="$WORK/pkg-config-build"; then
    for program in recommend_c recommend_cpp; do
        check "pkg-config $program loads the installed library" \
            links_installed "$WORK/pkg-config-build/$program"
        run_consumer "pkg-config $program" "$WORK/pkg-config-build/$program" "$MODEL"
    done
fi
unset PKG_CONFIG_PATH

# ---------------------------------------------------------------------------------------
# Python: pip install, and a wheel, each into a fresh venv
# ---------------------------------------------------------------------------------------

# python_package_checks VENV: ld4mrec imports from the venv's site-packages, with the
# bundled library, the header's version and numpy as a dependency.
python_package_checks() {
    (cd "$ELSEWHERE" && env -u PYTHONPATH -u LD4MREC_LIBRARY "$1/bin/python" - "$VERSION" <<'EOF'
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import ld4mrec

site = Path(sysconfig.get_paths()["platlib"]).resolve()
version = metadata.version("ld4mrec")
requires = metadata.requires("ld4mrec") or []
print(f"ld4mrec {version} from {ld4mrec.__file__}, library {ld4mrec.library_path}")
print(f"requires {requires}")
assert Path(ld4mrec.__file__).resolve().is_relative_to(site), "not imported from the venv"
assert Path(ld4mrec.library_path).resolve() == Path(ld4mrec.__file__).resolve().parent / "libld4mrec.so"
assert version == sys.argv[1] == ld4mrec.version(), f"versions {version}, {ld4mrec.version()}"
assert "numpy" in requires, "numpy is not a dependency"
EOF
    )
}

python_example() { # python_example VENV
    (cd "$ELSEWHERE" && env -u PYTHONPATH -u LD4MREC_LIBRARY \
        "$1/bin/python" "$ROOT/Examples/python/recommend.py" "$MODEL")
}

echo "=== pip install ./Bindings/python into a fresh venv"
if check "pip install ./Bindings/python into a fresh venv" bash -c "
        '$PYTHON' -m venv '$WORK/venv-pip' &&
        '$WORK/venv-pip/bin/pip' install -q --disable-pip-version-check ./Bindings/python"; then
    check "pip-installed package: site-packages, bundled library, version, metadata" \
        python_package_checks "$WORK/venv-pip"
    run_consumer "python example (pip install)" python_example "$WORK/venv-pip"
fi

echo "=== pip wheel ./Bindings/python, installed into another fresh venv"
platform=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')
wheel=$WORK/wheels/ld4mrec-$VERSION-py3-none-$platform.whl
# The venv's own pip builds the wheel: the system Python may have none.
if check "pip wheel builds $(basename "$wheel")" bash -c "
        '$PYTHON' -m venv '$WORK/venv-wheel' &&
        '$WORK/venv-wheel/bin/pip' wheel -q --disable-pip-version-check --no-deps \
            -w '$WORK/wheels' ./Bindings/python &&
        ls '$WORK/wheels' && [ -f '$wheel' ]" &&
    check "the wheel installs into the fresh venv" \
        "$WORK/venv-wheel/bin/pip" install -q --disable-pip-version-check "$wheel"; then
    check "wheel-installed package: site-packages, bundled library, version, metadata" \
        python_package_checks "$WORK/venv-wheel"
    run_consumer "python example (wheel)" python_example "$WORK/venv-wheel"
fi

# ---------------------------------------------------------------------------------------
# Swift: a package that depends on this one
# ---------------------------------------------------------------------------------------

echo "=== Swift package Examples/swift-package"
if check "swift build in Examples/swift-package" \
    bash -c "cd Examples/swift-package && swift build"; then
    bin=$(cd Examples/swift-package && swift build --show-bin-path)
    run_consumer "swift package" "$bin/recommend" "$MODEL"
fi

# ---------------------------------------------------------------------------------------
# make uninstall
# ---------------------------------------------------------------------------------------

echo "=== make uninstall"
same_listing() { # same_listing ROOT BEFORE
    listing "$1" >"$WORK/after"
    diff "$2" "$WORK/after"
}
check "make uninstall PREFIX=$PREFIX" make -C "$ROOT" uninstall PREFIX="$PREFIX" &&
    check "the prefix is as it was before install" same_listing "$PREFIX" "$WORK/prefix.before"
check "make uninstall DESTDIR=$STAGE PREFIX=/usr/local" \
    make -C "$ROOT" uninstall DESTDIR="$STAGE" PREFIX=/usr/local &&
    check "the staging folder is as it was before install" same_listing "$STAGE" "$WORK/stage.before"

finish
