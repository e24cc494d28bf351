"""The frozen item-side tables computed once from the training matrix R (docs/MODEL.md):
the randomized SVD, item degrees, standardised features and the EASE item-item prior.

Computed in float64 with torch (CPU), following the Swift trainer's algorithms
(RandomizedSVD.swift, ItemItemPrior.swift, Trainer.standardized); the random sketch is
torch's, so V matches the Swift side's up to the sign of each column and the accuracy of
a randomized SVD, not bit for bit."""

import warnings

import numpy as np
import torch

__all__ = ["training_matrix", "item_degrees", "randomized_svd", "standardize_features", "gram", "ease", "ease_candidate",
           "knn", "KNN_POPULARITY_EXPONENTS", "KNN_CHOICE_USERS"]

_SVD_SEED_TAG = 0x5EED5D  # the Swift side also derives the sketch's seed as seed ^ 0x5EED5D


def training_matrix(histories, n_items):
    """R (n_users x n_items) as a float64 sparse COO tensor, from CSR histories."""
    rows = histories.row_of_item().cpu()
    items = histories.items.cpu()
    return torch.sparse_coo_tensor(torch.stack([rows, items]), torch.ones(items.numel(), dtype=torch.float64),
                                   (len(histories), n_items), check_invariants=True).coalesce()


def item_degrees(histories, n_items):
    """deg_i: training interactions of each item (int64)."""
    return torch.bincount(histories.items.cpu(), minlength=n_items)


def _orthonormalize(a):
    """An orthonormal basis of the columns of a (Householder QR, reduced)."""
    return torch.linalg.qr(a, mode="reduced").Q


def randomized_svd(histories, n_items, rank, oversamples=10, power_iterations=4, seed=0):
    """Rank-k randomized SVD (Halko, Martinsson, Tropp 2011, Alg. 4.4 + 5.1) of the binary
    training matrix: (V (n_items, k) float32, s (k,) float32). Gaussian sketch of
    rank + oversamples columns, power iterations re-orthonormalised by QR, then the
    eigen-decomposition of the small B B^T gives s and V. Raises ValueError for a rank above
    the matrix's size or numerical rank."""
    n_users = len(histories)
    if not 1 <= rank <= min(n_users, n_items):
        raise ValueError(f"svd_rank {rank} must be in 1...{min(n_users, n_items)} "
                         f"(the training matrix is {n_users} x {n_items})")
    r = training_matrix(histories, n_items)
    rt = r.t().coalesce()
    width = min(rank + max(0, oversamples), min(n_users, n_items))
    g = torch.Generator().manual_seed((int(seed) ^ _SVD_SEED_TAG) & (2 ** 64 - 1))
    omega = torch.randn(n_items, width, generator=g, dtype=torch.float64)
    q = _orthonormalize(torch.sparse.mm(r, omega))
    for _ in range(power_iterations):
        q = _orthonormalize(torch.sparse.mm(rt, q))
        q = _orthonormalize(torch.sparse.mm(r, q))
    bt = torch.sparse.mm(rt, q)                      # B^T = R^T Q (n_items x width)
    eigenvalues, eigenvectors = torch.linalg.eigh(bt.T @ bt)  # B B^T = U S^2 U^T, ascending
    top = torch.arange(width - 1, width - 1 - rank, -1)
    sigma = eigenvalues[top].clamp(min=0).sqrt()
    if not bool((sigma > 1e-6).all()):
        raise ValueError(f"the training matrix has rank below svd_rank {rank}; lower it")
    v = bt @ eigenvectors[:, top] / sigma          # V = B^T U S^{-1}
    return v.float(), sigma.float()


def standardize_features(features, degrees):
    """Each column standardised with its mean and standard deviation over the items with at
    least one training interaction (constant columns only centred); float32."""
    raw = torch.as_tensor(np.asarray(features)).double()
    warm = torch.as_tensor(np.asarray(degrees)) > 0
    if not bool(warm.any()):
        return raw.float()
    mean = raw[warm].mean(dim=0)
    variance = ((raw[warm] - mean) ** 2).mean(dim=0)
    std = torch.where(variance > 1e-12, variance.sqrt(), torch.ones((), dtype=torch.float64))
    return ((raw - mean) / std).float()


def gram(histories, n_items):
    """R^T R of the training matrix, dense float64 (n_items x n_items)."""
    r = training_matrix(histories, n_items)
    with warnings.catch_warnings():  # sparse x sparse goes through CSR, which torch calls beta
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse.mm(r.t().coalesce(), r).to_dense()


def ease(histories, n_items, lam, gram_matrix=None):
    """EASE (Steck 2019): B = I - P / diag(P), P = (R^T R + lambda I)^{-1}, zero diagonal
    (n_items x n_items float32; row i = what history item i adds to every item's score).
    ``gram_matrix`` (from ``gram``) saves recomputing R^T R for several lambdas."""
    p = gram(histories, n_items) if gram_matrix is None else gram_matrix.clone()
    p.diagonal().add_(lam)
    factor = torch.linalg.cholesky(p)
    del p  # n_items^2 float64 each: keep at most two alive
    b = torch.cholesky_inverse(factor)  # P
    del factor
    b.div_(-b.diagonal().clone())       # column j divided by -P[j, j]
    b.fill_diagonal_(0)
    return b.float()


def ease_candidate(k, around):
    """The k-th step of the 1-2-5 series around ``around`` (k = 0: itself, 1: twice it,
    -1: half of it, 3: ten times it), as the Swift trainer's EASE.candidate."""
    decade = k // 3
    scale = around * (1, 2, 5)[k - 3 * decade]
    for _ in range(abs(decade)):
        scale = scale * 10 if decade > 0 else scale / 10
    return scale


KNN_POPULARITY_EXPONENTS = [i / 10 for i in range(11)]  # the ones the trainers try, as ItemKNN.swift
KNN_CHOICE_USERS = 10_000  # validation users the choice ranks at most (every s-th beyond)


def knn(histories, n_items, neighbours, popularity_exponent):
    """The sparse prior of catalogues too large for EASE (docs/MODEL.md): each item's
    `neighbours` most similar items by w_ij = sum over u in U_i and U_j of 1 / |I_u|,
    divided by sqrt(deg_i) deg_j^beta (beta = `popularity_exponent`), ties to the lower
    item; a coalesced COO tensor (n_items, n_items), row i = what history item i adds to
    its neighbours."""
    r = training_matrix(histories, n_items)
    user_weight = 1 / torch.clamp(histories.lengths.cpu().double(), min=1)
    weighted = torch.sparse_coo_tensor(r.indices(), user_weight[r.indices()[0]], r.shape,
                                       check_invariants=True).coalesce()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        together = torch.sparse.mm(r.t().coalesce(), weighted).coalesce()
    rows, cols = together.indices()
    counts = together.values()
    off_diagonal = rows != cols
    rows, cols, counts = rows[off_diagonal], cols[off_diagonal], counts[off_diagonal]
    degree = torch.zeros(n_items, dtype=torch.float64).index_add_(0, histories.items.cpu(),
                                                                  torch.ones(histories.items.numel(), dtype=torch.float64))
    weight = counts / (torch.sqrt(degree[rows]) * degree[cols] ** popularity_exponent)
    weight = weight.float()
    # Within each row: by weight (descending), ties by column (ascending); keep the first ones.
    order = torch.argsort(cols, stable=True)
    order = order[torch.argsort(-weight[order], stable=True)]
    order = order[torch.argsort(rows[order], stable=True)]
    rows, cols, weight = rows[order], cols[order], weight[order]
    starts = torch.zeros(n_items + 1, dtype=torch.int64)
    starts[1:] = torch.cumsum(torch.bincount(rows, minlength=n_items), 0)
    rank = torch.arange(rows.numel()) - starts[rows]
    keep = rank < neighbours
    return torch.sparse_coo_tensor(torch.stack([rows[keep], cols[keep]]), weight[keep], (n_items, n_items),
                                   check_invariants=True).coalesce()
