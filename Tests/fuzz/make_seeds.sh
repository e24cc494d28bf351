#!/usr/bin/env bash
# Regenerates the seed corpora Tests/fuzz/seeds/<target>/ from real files: synthesized
# models, stores saved by the library, .npy files written by numpy and an .inter file of
# `ld4mrec make-dataset`. Needs `make build`, and numpy and h5py for python3.
# Usage: bash Tests/fuzz/make_seeds.sh
set -eu
cd "$(dirname "$0")/../.."
SEEDS=Tests/fuzz/seeds
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ld4mrec-seeds.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
rm -rf "$SEEDS"
mkdir -p "$SEEDS"/{fuzz_model_file,fuzz_store_file,fuzz_npy,fuzz_inter,fuzz_capi}

# Models: the smallest architecture without modalities and prior, and one with both.
dist/bin/ld4mrec synthesize --out "$SEEDS/fuzz_model_file/plain.h5" --items 6 --users 2 --hidden 4 \
    --svd-rank 2 --step-embedding 2 --blocks 1 --film-hidden 2 --modalities "" --no-item-item --seed 3 >/dev/null
dist/bin/ld4mrec synthesize --out "$SEEDS/fuzz_model_file/prior-and-image.h5" --items 8 --users 3 --hidden 4 \
    --svd-rank 2 --step-embedding 2 --blocks 1 --film-hidden 2 --modalities image:2 --seed 4 >/dev/null

# Stores, saved by the library (and one written by h5py with a fixed-length format string).
bash Tests/fuzz/models.sh "$WORK"
PYTHONPATH=Bindings/python python3 - "$WORK/a.h5" "$SEEDS/fuzz_store_file" <<'PY'
import sys
import h5py
import numpy as np
import ld4mrec

model_path, out = sys.argv[1], sys.argv[2]
with ld4mrec.Model(model_path) as model:
    ids = model.item_ids()
    with ld4mrec.Store.from_model(model) as store:
        store.save(f"{out}/training-histories.h5")
    with ld4mrec.Store(model) as store:
        store.save(f"{out}/empty.h5")
        store.add(-7, [ids[0], 999_999_937])           # an id no model knows
        store.replace(2 ** 62, [ids[3], ids[1]])
        store.replace(8, [])
        store.save(f"{out}/mixed.h5")
with h5py.File(f"{out}/h5py-fixed-strings.h5", "w") as f:
    f.attrs["format"] = np.bytes_("ld4mrec-store")
    f.attrs["format_version"] = 1
    f.create_dataset("users", data=np.array([3, 9], dtype=np.int64))
    f.create_dataset("offsets", data=np.array([0, 2, 3], dtype=np.int64))
    f.create_dataset("items", data=np.array([1007, 1000, 1014], dtype=np.int64))
PY

# .npy: float32 and float16, format versions 1.0 and 2.0.
python3 - "$SEEDS/fuzz_npy" <<'PY'
import sys
import numpy as np

out = sys.argv[1]
np.save(f"{out}/float32.npy", np.arange(6, dtype=np.float32).reshape(3, 2) / 7)
np.save(f"{out}/float16.npy", np.arange(8, dtype=np.float16).reshape(2, 4))
with open(f"{out}/version2.npy", "wb") as f:
    np.lib.format.write_array(f, np.ones((4, 1), dtype=np.float32), version=(2, 0))
PY

# .inter: the first users of the built-in dataset (dense ids, all three splits).
dist/bin/ld4mrec make-dataset --out "$WORK/data" --users 10 --items 50 >/dev/null
awk -F'\t' 'NR == 1 || $1 < 3' "$WORK/data/builtin.inter" >"$SEEDS/fuzz_inter/three-users.inter"
printf 'userID\titemID\tx_label\r\n0\t1\t0\r\n1\t0\t2\r\n' >"$SEEDS/fuzz_inter/crlf.inter"

# The API program: a few random byte strings (each byte is a choice, fuzz_capi.c).
python3 - "$SEEDS/fuzz_capi" <<'PY'
import random
import sys

rng = random.Random(2024)
for i in range(8):
    with open(f"{sys.argv[1]}/random-{i}", "wb") as f:
        f.write(bytes(rng.randrange(256) for _ in range(256)))
PY
du -sh "$SEEDS"/*
