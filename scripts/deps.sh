#!/usr/bin/env bash
# Checks the Debian packages a make target needs, and installs the missing ones as root
# (apt-get); anyone else gets the exact command to run. One dpkg query when all is there.
#   scripts/deps.sh build   libopenblas-dev libhdf5-dev pkg-config: swift build finds
#                           OpenBLAS and HDF5 through pkg-config
#   scripts/deps.sh test    the above, cmake (a consumer of the installed CMake package is
#                           tested) and python3-venv if $PYTHON cannot make a venv
set -euo pipefail

case "${1:-}" in
build) packages=(libopenblas-dev libhdf5-dev pkg-config) ;;
test) packages=(libopenblas-dev libhdf5-dev pkg-config cmake) ;;
*)
    echo "usage: $0 build|test" >&2
    exit 2
    ;;
esac

if ! command -v dpkg >/dev/null; then
    # Not Debian: the names differ, so only say what is needed.
    if ! pkg-config --exists openblas hdf5 2>/dev/null; then
        echo "deps: pkg-config must find openblas and hdf5 (on Debian: ${packages[*]})" >&2
        exit 1
    fi
    exit 0
fi

# Debian's own python3 makes virtual environments only with python3-venv (ensurepip).
if [ "$1" = test ] && ! "${PYTHON:-python3}" -c 'import ensurepip' 2>/dev/null; then
    packages+=(python3-venv)
fi

# One query; a package removed with its configuration left is listed, not installed.
installed=" $(dpkg-query -W -f='${Package}=${Status} ' "${packages[@]}" 2>/dev/null || true) "
missing=()
for package in "${packages[@]}"; do
    [[ $installed == *" $package=install ok installed "* ]] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

command="apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: install them, then run make again:  sudo $command" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet.
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
