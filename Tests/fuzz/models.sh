#!/usr/bin/env bash
# The two small models the fuzz targets use (fuzz_store_file loads stores with model A;
# fuzz_capi drives the API against both). B's catalogue overlaps A's, differs from it and
# is ordered by descending id. Usage: bash Tests/fuzz/models.sh FOLDER  (needs dist/bin).
set -eu
cd "$(dirname "$0")/../.."
out=$1
mkdir -p "$out"
dist/bin/ld4mrec synthesize --out "$out/a.h5" --items 40 --users 10 --hidden 8 --svd-rank 4 \
    --step-embedding 4 --blocks 1 --film-hidden 4 --modalities image:4 --seed 1 >/dev/null
dist/bin/ld4mrec synthesize --out "$out/b.h5" --items 50 --users 12 --hidden 8 --svd-rank 4 \
    --step-embedding 4 --blocks 1 --film-hidden 4 --modalities image:4,text:3 --seed 2 \
    --first-item-id $((1000 + 7 * 59)) --item-id-step=-7 >/dev/null
