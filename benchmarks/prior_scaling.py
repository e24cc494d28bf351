#!/usr/bin/env python3
"""The sparse item-item prior at catalogue scale: build time, file size and peak memory.

    python3 benchmarks/prior_scaling.py --items 100000 1000000 [--users-per-item 0.5]
        [--history 20] [--folder /tmp/ld4mrec-prior-scaling]

For each catalogue size, writes a synthetic MMRec dataset (items in topics of 200, each
user drawing `--history` items from two topics, item popularity Zipf within a topic, one
16-d image feature), trains a minimal C-Net for one epoch with the kNN prior
(`ld4mrec train --item-item knn`, under /usr/bin/time -v) and reports the prior's build
time (the "signals" time the trainer prints, which is the SVD, the features and the
prior), the neighbours kept, the model file's size, the trainer's peak memory and one
user's recommendation latency through the library. Needs `make build`.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Bindings" / "python"))
CLI = ROOT / "dist" / "bin" / "ld4mrec"


def write_dataset(folder, n_items, n_users, history, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    topic_size = 200
    n_topics = (n_items + topic_size - 1) // topic_size
    weights = 1 / np.arange(1, topic_size + 1) ** 0.8
    weights /= weights.sum()
    rows = []
    for u in range(n_users):
        topics = rng.integers(0, n_topics, size=2)
        picks = topics[rng.integers(0, 2, size=history)] * topic_size + rng.choice(topic_size, size=history, p=weights)
        items = np.unique(np.minimum(picks, n_items - 1))
        rng.shuffle(items)
        n = len(items)
        labels = np.zeros(n, dtype=np.int64)
        labels[max(1, n - 2):n - 1] = 1   # one validation item
        labels[n - 1:] = 2 if n >= 3 else labels[n - 1:]  # one test item
        rows.append(np.stack([np.full(n, u), items, labels], axis=1))
    rows = np.concatenate(rows)
    with open(folder / f"{folder.name}.inter", "w") as f:
        f.write("userID\titemID\tx_label\n")
        np.savetxt(f, rows, fmt="%d", delimiter="\t")
    np.save(folder / "image_feat.npy", rng.standard_normal((n_items, 16)).astype(np.float32))
    return len(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--users-per-item", type=float, default=0.5)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--folder", default="/tmp/ld4mrec-prior-scaling")
    args = parser.parse_args()
    import ld4mrec

    results = []
    for n_items in args.items:
        data = Path(args.folder) / f"synthetic{n_items}"
        n_users = int(n_items * args.users_per_item)
        interactions = write_dataset(data, n_items, n_users, args.history)
        model = data.with_suffix(".h5")
        command = ["/usr/bin/time", "-v", str(CLI), "train", "--data", str(data), "--out", str(model), "--epochs", "1",
                   "--hidden", "16", "--svd-rank", "8", "--film-hidden", "8", "--item-item", "knn"]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(run.stdout + run.stderr)
        signals = re.search(r"\+([0-9.]+) s SVD and signals", run.stdout + run.stderr)
        peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
        with ld4mrec.Model(model) as m:
            store = ld4mrec.Store.from_model(m)
            users = store.user_ids()[:200]
            for u in users[:5]:
                store.recommend_user(int(u), k=20)
            times = []
            for u in users:
                start = time.perf_counter()
                store.recommend_user(int(u), k=20)
                times.append(time.perf_counter() - start)
        import h5py
        with h5py.File(model) as f:
            neighbours = int(f["signals/item_item_sparse/columns"].shape[0]) if "signals/item_item_sparse" in f else 0
        result = {"items": n_items, "users": n_users, "interactions": interactions,
                  "svd_features_prior_s": float(signals.group(1)) if signals else None,
                  "prior_entries": neighbours, "model_file_bytes": model.stat().st_size,
                  "trainer_peak_bytes": peak_kb * 1024, "recommend_one_user_s": float(np.median(times))}
        results.append(result)
        print(json.dumps(result), flush=True)
        model.unlink()


if __name__ == "__main__":
    main()
