#!/usr/bin/env bash
# The open libhdf5 findings of the fuzz runs (docs/TESTING.md, "What libhdf5 does with
# malformed files"): one input per crash site, rebuilt from the committed seed
# Tests/fuzz/seeds/fuzz_model_file/prior-and-image.h5 by the byte patches below (offset:
# new byte, hex), and loaded with `ld4mrec inspect` in a child process, the pre-flight
# check the header recommends for files that may be malformed. Each line says how the
# child ended: refused (status 1: the library reported an error), crashed (signal), did
# not finish (killed after 30 s) or loaded. No crash here is in the library's code: the stacks
# (from the ASan build) are all inside libhdf5 1.10.8.
# Usage: bash Tests/fuzz/libhdf5_cases.sh   (needs make build)
set -u
cd "$(dirname "$0")/../.." || exit 1
SEED=Tests/fuzz/seeds/fuzz_model_file/prior-and-image.h5
SEED_SHA256=d47e195c77bac35b203c2534515de117f9c5d640b2901873125bfc890122f7fe
[ "$(sha256sum "$SEED" | cut -d' ' -f1)" = "$SEED_SHA256" ] ||
    { echo "$SEED changed (make fuzz-seeds): the patches below were made for the committed one"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ld4mrec-libhdf5.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

while read -r name patch; do
    [ -n "$name" ] || continue
    python3 - "$SEED" "$WORK/$name.h5" $patch <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
for item in sys.argv[3:]:
    offset, value = item.split(":")
    data[int(offset, 16)] = int(value, 16)
open(sys.argv[2], "wb").write(data)
PY
    # (stderr of the whole substitution to /dev/null: bash reports a child's crash there)
    status=$(exec 2>/dev/null; SWIFT_BACKTRACE=enable=no timeout -s KILL 30 dist/bin/ld4mrec inspect \
        "$WORK/$name.h5" >/dev/null; echo $?)
    case $status in
    0) outcome="loaded" ;;
    1) outcome="refused (error reported)" ;;
    137) outcome="did not finish (killed after 30 s)" ;;
    *) outcome="crashed (signal $((status - 128)))" ;;
    esac
    printf '%-40s %s\n' "$name" "$outcome"
done <<'CASES'
H5HG_read-memcpy-overlap 76b:f0 81b:fc 81c:ff 81d:ff 81e:ff 2949:20 394e:fd 5ee4:19 735b:02 a140:24
H5HG_read-segv 12a6:09 1d06:04 22d8:ff 22d9:ff 22da:ff 22db:ff 22dc:ff 22dd:ff 22de:02 22df:fd 3a1f:20 56b7:ff 56b8:ff 56b9:ff 56ba:fc 574e:73 5df1:65 5df2:61 5df3:73 5df4:65 5df5:5f 5df6:6c 5df7:61 5df8:6d 89d2:01 89d9:03 90e0:0c
H5HG__protect-hang 871:ff 872:ff 873:ff 874:ff 875:ff 876:ff 877:ff 878:2e 1975:04 2949:20 394e:fd 40c5:ff 5ee4:19 8aa4:25 9a70:29 9c28:b2 a0ca:1e
H5O__msg_iterate_real-overflow 346:70 347:61 348:74 349:69 34a:65 34b:6e 34c:63 1975:04 2949:20 34d8:5e 394e:fd 5ee4:19 725f:a2
H5C_protect-huge-allocation 86:08 1013:29 22c4:5a 2949:20 394e:fd 3c23:01 3c2a:08 5796:40 5ee4:19 7cd1:60
H5T__conv_vlen-huge-allocation 1844:32 1b0e:fa 1b0f:ff 1b10:ff 1b11:ff 1b12:f7 1b13:ff 1b14:ff 1b15:ff
H5VM_memcpyvv-overflow 1013:29 2949:20 2ef9:00 2efa:01 2efb:00 2efc:08 2efd:23 394e:fd 3d46:02 4db8:36 561c:38 5796:40 5ee4:19 646b:17 646c:00 7d1c:31 8ee9:ff 8eea:ff 8eeb:ff 8eec:ff 9ae4:38
CASES
