#!/usr/bin/env python3
"""Train LD4MRec in PyTorch, export model file v1, and serve it with libld4mrec.

Usage (from the repository root, after `make build`; needs torch and h5py):
    dist/bin/ld4mrec make-dataset --out /tmp/builtin
    PYTHONPATH=Bindings/python python3 Examples/python/train_torch.py /tmp/builtin /tmp/model.h5

The exported file is an ordinary model file: serve it from C++ with the C++ example,
    g++ -std=c++17 -I Include -I Bindings/cpp Examples/cpp/recommend.cpp -L dist/lib -lld4mrec \\
        -Wl,-rpath,$PWD/dist/lib -o /tmp/recommend
    /tmp/recommend /tmp/model.h5
or with `dist/bin/ld4mrec recommend /tmp/model.h5 --user 7`. The same training on two
processes: torchrun --nproc_per_node 2 -m ld4mrec.torch.train --data /tmp/builtin --out /tmp/model.h5
"""

import argparse
import sys

import numpy as np

import ld4mrec
import ld4mrec.torch as lt


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="MMRec dataset folder")
    parser.add_argument("out", help="model file to write")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv[1:])

    # 1. Train in PyTorch: a small architecture, every other setting docs/MODEL.md's.
    data = lt.Dataset.from_mmrec(args.data)
    print(f"{data.name}: {data.n_users} users, {data.n_items} items, "
          f"modalities {[name for name, _ in data.modalities]}")
    h = lt.Hyperparameters(hidden_size=64, svd_rank=16, max_epochs=args.epochs, patience=5)
    result = lt.Trainer(data, h).fit(
        progress=lambda r: print(f"epoch {r.epoch}: loss {r.loss:.5f}, val recall@20 {r.validation.recall20:.4f}"))
    print(f"best epoch {result.best_epoch}; with the item-item prior: val recall@20 "
          f"{result.final_validation.recall20:.4f}")

    # 2. Export: model file v1, written atomically.
    lt.export(result.model, args.out)
    print(f"wrote {args.out}")

    # 3. Serve it with the library, and check that it ranks as the torch module does.
    model = result.model
    user = 0
    history_rows = model.training_histories.select([user])
    history_ids = model.item_ids[history_rows.items].numpy()
    torch_rows, _ = model.recommend(history_rows, model.user_rows([user]), k=10)
    with ld4mrec.Model(args.out) as served:
        items, scores = served.recommend_history(history_ids, k=10, user=int(model.user_ids[user]))
    print(f"top 10 for user {user} from libld4mrec:")
    for rank, (item, score) in enumerate(zip(items, scores), start=1):
        print(f"  {rank:2}. item {item:5}  score {score:8.4f}")
    same = np.array_equal(items, model.item_ids[torch_rows[0]].numpy())
    print("the torch module ranks the same items" if same else "the torch module ranks differently")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
