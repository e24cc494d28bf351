#!/usr/bin/env python3
"""Recommend items with an LD4MRec model from Python.

Usage (from the repository root):
    PYTHONPATH=Bindings/python python3 Examples/python/recommend.py MODEL.h5
or, with the package installed (pip install ./Bindings/python), from anywhere:
    python3 recommend.py MODEL.h5

No model at hand? Make one with random weights:
    dist/bin/ld4mrec synthesize --out model.h5
"""

import sys

import numpy as np

import ld4mrec


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = argv[1]
    try:
        model = ld4mrec.Model(path)
    except ld4mrec.LD4MRecError as error:
        print(f"cannot load {path}: {error} ({error.status_name})", file=sys.stderr)
        return 1

    with model, ld4mrec.Store.from_model(model) as store:
        names = ", ".join(model.modality_names) or "none"
        print(f"Model {path}: {model.n_items} items, {model.info.n_users} users, modalities: {names}")
        print(f"Store: training histories of {store.n_users} users")

        # A user has just interacted with three items: add them, no retraining needed.
        user = int(store.user_ids()[0]) if store.n_users else 1
        known = store.history(user) if store.n_users else np.empty(0, dtype=np.int64)
        new_items = np.setdiff1d(model.item_ids(), known)[:3]
        store.add(user, new_items)
        print(f"\nUser {user}: added items {new_items.tolist()}; "
              f"the history now holds {len(store.history(user))} items")

        items, scores = store.recommend_user(user, k=10)
        print(f"Top {len(items)} for user {user} (history items left out):")
        print("  rank  item id     score")
        for rank, (item, score) in enumerate(zip(items, scores), start=1):
            print(f"  {rank:4}  {item:7}  {score:8.4f}")

        # Stateless: a history kept elsewhere (e.g. a session), scored against a few
        # candidates. Ids the model does not know are counted, and score -inf.
        history = model.item_ids()[1:10:4]
        candidates = np.append(model.item_ids()[0:8:2], -1)
        scores, unknown, skipped = model.score_history(history, candidates, return_counts=True)
        print(f"\nAnonymous history {history.tolist()}: candidate scores")
        for item, score in sorted(zip(candidates.tolist(), scores.tolist()), key=lambda p: -p[1]):
            print(f"  item {item:7}  {score:8.4f}")
        print(f"  ({unknown} unknown candidate, {skipped} unknown history items)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
