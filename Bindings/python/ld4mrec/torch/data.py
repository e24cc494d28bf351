"""Training data: an MMRec dataset folder, or interaction matrices and feature tables a
user already has (scipy sparse, torch sparse or dense, NumPy)."""

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from .model import Histories

__all__ = ["Dataset"]


@dataclass
class Dataset:
    """Users x items interactions split into train / validation / test, and item features.

    ``train``, ``valid``, ``test`` are Histories over user rows (row u = user
    ``user_ids[u]``, items as rows into ``item_ids``). ``modalities`` is a list of
    ``(name, float32 array (n_items, d_m))`` in the order the PG block applies them (raw,
    as read: the trainer standardises them)."""

    n_users: int
    n_items: int
    train: Histories
    valid: Histories
    test: Histories
    modalities: list = field(default_factory=list)
    item_ids: np.ndarray = None
    user_ids: np.ndarray = None
    name: str = "dataset"
    duplicates_dropped: int = 0

    def __post_init__(self):
        if self.item_ids is None:
            self.item_ids = np.arange(self.n_items, dtype=np.int64)
        if self.user_ids is None:
            self.user_ids = np.arange(self.n_users, dtype=np.int64)
        for split in ("train", "valid", "test"):
            if len(getattr(self, split)) != self.n_users:
                raise ValueError(f"{split} has {len(getattr(self, split))} rows, expected {self.n_users} users")
        for name, features in self.modalities:
            if features.ndim != 2 or features.shape[0] != self.n_items:
                raise ValueError(f"modality {name!r}: features must be ({self.n_items}, d), got {features.shape}")

    def split(self, name):
        if name not in ("train", "valid", "test"):
            raise ValueError(f"split must be 'train', 'valid' or 'test', got {name!r}")
        return getattr(self, name)

    # ---- MMRec folders

    @classmethod
    def from_mmrec(cls, folder, modalities=None):
        """Reads an MMRec folder as the Swift trainer does (Dataset.swift): ``<name>.inter``
        (tab-separated, header with ``userID``, ``itemID``, ``x_label`` = 0 train / 1
        validation / 2 test; the folder's name or the only ``.inter`` file) and one
        ``<modality>_feat.npy`` per modality. ``modalities``: names to use, in order (None:
        every ``*_feat.npy`` alphabetically; empty: none). Repeated (user, item) lines keep
        the first; ids are dense rows from 0."""
        folder = os.fspath(folder)
        files = sorted(os.listdir(folder))
        base = os.path.basename(os.path.normpath(folder))
        if base + ".inter" in files:
            inter = base + ".inter"
        else:
            candidates = [f for f in files if f.endswith(".inter")]
            if len(candidates) != 1:
                raise OSError(f"'{folder}': expected one .inter file, found {len(candidates)}")
            inter = candidates[0]
        available = sorted(f[: -len("_feat.npy")] for f in files if f.endswith("_feat.npy"))
        names = available if modalities is None else list(modalities)
        for name in names:
            if name not in available:
                raise OSError(f"'{folder}': no feature file '{name}_feat.npy' "
                              f"(found: {[a + '_feat.npy' for a in available]})")
        features = [(name, np.asarray(np.load(os.path.join(folder, name + "_feat.npy")), dtype=np.float32))
                    for name in names]

        users, items, labels, duplicates = _read_inter(os.path.join(folder, inter))
        n_items = int(items.max()) + 1
        for name, table in features:
            if table.ndim != 2:
                raise ValueError(f"'{folder}/{name}_feat.npy' must be 2-D, got shape {table.shape}")
            if table.shape[0] < n_items:
                raise ValueError(f"'{folder}/{name}_feat.npy' has {table.shape[0]} rows, but the "
                                 f"interactions use item ids up to {n_items - 1}")
        if features and len({t.shape[0] for _, t in features}) > 1:
            raise ValueError("feature files disagree on the item count: "
                             + ", ".join(f"{n} has {t.shape[0]} rows" for n, t in features))
        n_items = max([n_items] + [t.shape[0] for _, t in features])
        n_users = int(users.max()) + 1
        splits = [_csr(users[labels == label], items[labels == label], n_users, n_items) for label in (0, 1, 2)]
        return cls(n_users, n_items, *splits, modalities=features, name=base, duplicates_dropped=duplicates)

    # ---- matrices a user already has

    @classmethod
    def from_matrices(cls, train, valid=None, test=None, features=None, item_ids=None, user_ids=None,
                      name="dataset"):
        """From n_users x n_items interaction matrices (scipy sparse, torch sparse or dense,
        NumPy; nonzero = interaction) and ``features``, a dict name -> (n_items, d_m) table in
        the order the model applies them. ``valid`` is what early stopping and the
        item-item mixture are chosen on; without it, see Trainer."""
        n_users, n_items, train_histories = _histories(train)
        splits = [train_histories]
        for split in (valid, test):
            if split is None:
                splits.append(Histories(torch.zeros(0, dtype=torch.int64), torch.zeros(n_users + 1, dtype=torch.int64)))
                continue
            users, items, histories = _histories(split)
            if (users, items) != (n_users, n_items):
                raise ValueError(f"every split must be {n_users} x {n_items}, got {users} x {items}")
            splits.append(histories)
        modalities = [(str(key), np.asarray(value.detach().cpu() if torch.is_tensor(value) else value,
                                            dtype=np.float32))
                      for key, value in (features or {}).items()]
        return cls(n_users, n_items, *splits, modalities=modalities,
                   item_ids=None if item_ids is None else np.asarray(item_ids, dtype=np.int64),
                   user_ids=None if user_ids is None else np.asarray(user_ids, dtype=np.int64), name=name)


def _read_inter(path):
    """(users, items, labels, duplicates dropped) of an MMRec .inter file."""
    with open(path, "r", encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n")
    if not header:
        raise ValueError(f"'{path}': empty file")
    names = [h.strip().replace(" ", "") for h in header.split("\t")]

    def column(name):
        for index, h in enumerate(names):
            if h == name or h.startswith(name + ":"):
                return index
        raise ValueError(f"'{path}', line 1: header has no '{name}' column (found {names})")

    columns = [column("userID"), column("itemID"), column("x_label")]
    table = np.loadtxt(path, delimiter="\t", skiprows=1, usecols=columns, dtype=np.int64, ndmin=2)
    if table.size == 0:
        raise ValueError(f"'{path}': no interactions")
    if (table < 0).any() or (table[:, :2] >= 1 << 31).any():
        raise ValueError(f"'{path}': ids must be non-negative and below 2^31")
    if (table[:, 2] > 2).any():
        raise ValueError(f"'{path}': x_label must be 0, 1 or 2")
    _, first = np.unique(table[:, 0] << 32 | table[:, 1], return_index=True)
    first.sort()
    return table[first, 0], table[first, 1], table[first, 2], len(table) - len(first)


def _csr(users, items, n_users, n_items):
    order = np.lexsort((items, users))
    counts = np.bincount(users, minlength=n_users)
    return Histories.from_csr(np.concatenate([[0], np.cumsum(counts)]), items[order], n_items)


def _histories(matrix):
    """(n_users, n_items, Histories) of an interaction matrix in any supported form."""
    if hasattr(matrix, "tocsr"):  # scipy.sparse, without importing scipy
        csr = matrix.tocsr()
        csr.sum_duplicates()
        csr.eliminate_zeros()
        n_users, n_items = csr.shape
        return n_users, n_items, Histories.from_csr(csr.indptr, csr.indices, n_items)
    if torch.is_tensor(matrix) and matrix.layout != torch.strided:
        coo = matrix.detach().cpu().to_sparse_coo().coalesce()
        users, items = coo.indices().numpy()
        nonzero = coo.values().numpy() != 0
        n_users, n_items = coo.shape
        return n_users, n_items, _csr(users[nonzero], items[nonzero], n_users, n_items)
    if torch.is_tensor(matrix):
        matrix = matrix.detach().cpu().numpy()
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"an interaction matrix must be 2-D, got shape {matrix.shape}")
    users, items = np.nonzero(matrix)  # row-major: each row's items ascending
    return matrix.shape[0], matrix.shape[1], _csr(users, items, matrix.shape[0], matrix.shape[1])
