#!/usr/bin/env python3
"""A noisy copy of an MMRec dataset folder: extra random training interactions.

    python3 benchmarks/noisy_dataset.py SRC DST [--fraction 0.2] [--seed 0]

Adds round(fraction x training interactions) (user, item) pairs drawn uniformly among the
pairs the user has in no split, as training interactions (x_label 0). Validation and
test are untouched, so a model trained on the copy is measured on the clean held-out
interactions. Feature files are linked, not copied. Used by BENCHMARKS.md's robustness
table.
"""
import argparse
import os
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    inter = [f for f in os.listdir(args.src) if f.endswith(".inter")]
    if len(inter) != 1:
        sys.exit(f"{args.src}: expected one .inter file, found {len(inter)}")
    with open(os.path.join(args.src, inter[0])) as f:
        header = f.readline()
        rows = np.loadtxt(f, dtype=np.int64, ndmin=2)
    users, items, labels = rows[:, 0], rows[:, 1], rows[:, 2]
    n_users, n_items = users.max() + 1, items.max() + 1
    taken = set((users * n_items + items).tolist())
    wanted = int(round(args.fraction * int((labels == 0).sum())))

    rng = np.random.default_rng(args.seed)
    added = []
    while len(added) < wanted:
        u = rng.integers(0, n_users, size=wanted)
        i = rng.integers(0, n_items, size=wanted)
        for key in (u * n_items + i).tolist():
            if key not in taken:
                taken.add(key)
                added.append(key)
                if len(added) == wanted:
                    break
    added = np.array(added, dtype=np.int64)
    noise = np.stack([added // n_items, added % n_items, np.zeros_like(added)], axis=1)

    os.makedirs(args.dst, exist_ok=True)
    out = os.path.join(args.dst, inter[0])
    with open(out + ".tmp", "w") as f:
        f.write(header)
        np.savetxt(f, np.concatenate([rows, noise]), fmt="%d", delimiter="\t")
    os.replace(out + ".tmp", out)
    for name in os.listdir(args.src):
        if name.endswith(".npy") and not os.path.exists(os.path.join(args.dst, name)):
            os.symlink(os.path.abspath(os.path.join(args.src, name)), os.path.join(args.dst, name))
    print(f"{args.dst}: {len(rows)} interactions + {wanted} random training ones "
          f"({args.fraction:.0%} of {int((labels == 0).sum())}), seed {args.seed}")


if __name__ == "__main__":
    main()
