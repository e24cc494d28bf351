"""Child process of test_store.test_crash_during_save, and the contents it saves.

    python3 crash_saver.py MODEL STORE_PATH USERS

Loads the store at STORE_PATH, builds two large stores ("A" and "B", deterministic), prints
"ready", then saves A, B, A, B, ... to STORE_PATH until it is killed.
"""

import sys

import numpy as np


def content(item_ids, version, users):
    """{user id: item ids} of version "A" or "B": every user's history differs between the
    two, so any mix of the two files would be detected."""
    offset = {"A": 0, "B": 5}[version]
    n = len(item_ids)
    return {10_000 + u: item_ids[(u * 7 + offset + np.arange(100 + (u + offset) % 150) * 11) % n]
            for u in range(users)}


def main():
    import ld4mrec

    model_path, store_path, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model = ld4mrec.Model(model_path)
    ld4mrec.Store.load(model, store_path).close()  # the file the parent wrote loads
    stores = []
    for version in ("A", "B"):
        store = ld4mrec.Store(model)
        for user, items in content(model.item_ids(), version, users).items():
            store.replace(user, items)
        stores.append(store)
    print("ready", flush=True)
    saves = 0
    while True:
        stores[saves % 2].save(store_path)
        saves += 1


if __name__ == "__main__":
    main()
