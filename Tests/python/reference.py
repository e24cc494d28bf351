"""An independent NumPy implementation of LD4MRec inference, for parity tests.

Written from /work/shared/docs/MODEL.md (C-Net, condition signals) and docs/FORMAT.md
(file layout, section 4 forward pass), not from the Swift code: it reads the model file
with h5py and computes in float64, one history at a time, with the dense multi-hot input
(W_in @ x) rather than a gather.
"""

import h5py
import numpy as np


def _dense(f, group):
    return (np.asarray(f[group + "/weight"], dtype=np.float64),
            np.asarray(f[group + "/bias"], dtype=np.float64))


def _apply(layer, x):
    weight, bias = layer
    return weight @ x + bias


def bfloat16(x):
    """x rounded to bfloat16 (to nearest, ties to even) and widened back to float64: what
    the library's bf16 tables and bf16 activations hold."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32).astype(np.float64)


class ReferenceModel:
    """A model file read with h5py; `scores` is the forward pass of FORMAT.md section 4.

    precision="bfloat16" computes what the library's bf16 loading promises (Include/
    ld4mrec.h, LD4MREC_PRECISION_BFLOAT16): every table (dense weights, W_in, the prior,
    after the score scales are applied to W_out, b_out and the prior) and every layer's
    input rounded to bfloat16, biases and sums kept exact."""

    def __init__(self, path, precision="float32"):
        with h5py.File(path, "r") as f:
            attrs = f.attrs
            self.slope = float(attrs["leaky_relu_slope"])
            self.n_blocks = int(attrs["n_blocks"])
            self.n_modalities = int(attrs["n_modalities"])
            self.item_ids = np.asarray(f["ids/items"], dtype=np.int64)
            self.user_ids = np.asarray(f["ids/users"], dtype=np.int64)
            self.V = np.asarray(f["signals/svd_item_factors"], dtype=np.float64)
            self.s = np.asarray(f["signals/svd_singular_values"], dtype=np.float64)
            self.degrees = np.asarray(f["signals/item_degrees"], dtype=np.int64)
            self.modality_names = [f[f"modalities/{m}"].attrs["name"] for m in range(self.n_modalities)]
            self.features = [np.asarray(f[f"modalities/{m}/features"], dtype=np.float64)
                             for m in range(self.n_modalities)]
            self.input = _dense(f, "cnet/input")
            self.blocks = []
            for b in range(self.n_blocks):
                prefix = f"cnet/blocks/{b}"
                self.blocks.append({
                    "W1": _dense(f, prefix + "/cg/hidden"),
                    "W2": _dense(f, prefix + "/cg/condition"),
                    "W3": _dense(f, prefix + "/cg/gate"),
                    "film": [{kind: (_dense(f, f"{prefix}/film/{m}/{kind}/fc1"),
                                     _dense(f, f"{prefix}/film/{m}/{kind}/fc2"))
                              for kind in ("scale", "shift")}
                             for m in range(self.n_modalities)],
                })
            self.output = _dense(f, "cnet/output")
            self.z_in = np.asarray(f["users/z_in"], dtype=np.float64)
            self.z_in_default = np.asarray(f["users/z_in_default"], dtype=np.float64)
            # The item-item prior and the score mixture (docs/FORMAT.md), optional.
            self.item_item = (np.asarray(f["signals/item_item"], dtype=np.float64)
                              if "signals/item_item" in f else None)
            if "signals/item_item_sparse" in f:  # CSR rows: the same B, most entries zero
                group = f["signals/item_item_sparse"]
                offsets, columns = np.asarray(group["offsets"]), np.asarray(group["columns"])
                dense = np.zeros((len(offsets) - 1,) * 2)
                rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
                dense[rows, columns] = np.asarray(group["values"], dtype=np.float64)
                self.item_item = dense
            self.sparse_prior = "signals/item_item_sparse" in f
            self.cnet_scale = float(attrs.get("score_scale_cnet", 1.0))
            self.item_item_scale = float(attrs.get("score_scale_item_item", 0.0))
            if "histories" in f:
                offsets = np.asarray(f["histories/offsets"], dtype=np.int64)
                rows = np.asarray(f["histories/items"], dtype=np.int64)
                self.histories = {int(u): self.item_ids[rows[offsets[j]:offsets[j + 1]]]
                                  for j, u in enumerate(self.user_ids)}
            else:
                self.histories = {}
        self.n_items = len(self.item_ids)
        self._row = {int(i): r for r, i in enumerate(self.item_ids)}
        self._user_row = {int(u): r for r, u in enumerate(self.user_ids)}
        self.round = (lambda x: x) if precision == "float32" else bfloat16
        if precision == "bfloat16":
            def rounded(layer, scale=1.0):
                return bfloat16(scale * layer[0]), scale * layer[1]
            self.input = rounded(self.input)
            for block in self.blocks:
                for name in ("W1", "W2", "W3"):
                    block[name] = rounded(block[name])
                block["film"] = [{kind: (rounded(net[0]), rounded(net[1])) for kind, net in film.items()}
                                 for film in block["film"]]
            self.output = rounded(self.output, self.cnet_scale)
            self.cnet_scale = 1.0
            if self.item_item is not None:
                scaled = self.item_item_scale * self.item_item
                # The library keeps the sparse prior's few values in float32.
                self.item_item = scaled.astype(np.float32).astype(np.float64) if self.sparse_prior else bfloat16(scaled)
                self.item_item_scale = 1.0

    # ---- helpers

    def rows(self, ids):
        """Rows of the known ids (a set: sorted, repeats dropped) and the unknown count."""
        known = [self._row[int(i)] for i in ids if int(i) in self._row]
        return np.array(sorted(set(known)), dtype=np.int64), len(ids) - len(known)

    def lrelu(self, x):
        return np.where(x >= 0, x, self.slope * x)

    # ---- the forward pass

    def scores(self, history, user=None):
        """Full score vector (float64, n_items) for a history of item ids and an optional
        user id (MODEL.md: inference is one C-Net pass on the observed history)."""
        H, _ = self.rows(history)
        x = np.zeros(self.n_items)
        x[H] = 1.0                                              # multi-hot x_in

        # deg_u = |N_u|; deg_i^(-1/2), with items of degree 0 weighted 0.
        deg_u = len(H)
        deg_i = self.degrees.astype(np.float64)
        inv_sqrt_deg_i = np.zeros(self.n_items)
        warm = deg_i > 0
        inv_sqrt_deg_i[warm] = deg_i[warm] ** -0.5
        inv_sqrt_deg_u = deg_u ** -0.5 if deg_u > 0 else 0.0

        # Collaborative signal (Eq. 14-15): [ x V diag(s)^-1 ; deg_u^-1/2 sum deg_i^-1/2 V_i ]
        fold_in = (x @ self.V) / self.s
        normalized = inv_sqrt_deg_u * ((x * inv_sqrt_deg_i) @ self.V)
        c_u = np.concatenate([fold_in, normalized])
        # Modality preferences (Eq. 16): sum (deg_u deg_i)^-1/2 f_{i,m}
        p = [inv_sqrt_deg_u * ((x * inv_sqrt_deg_i) @ F) for F in self.features]

        row = self._user_row.get(int(user)) if user is not None else None
        z = self.z_in[row] if row is not None else self.z_in_default

        r = self.round  # a layer's input as the library's tables read it
        h = _apply(self.input, x)                               # W_in x + b_in
        for b, block in enumerate(self.blocks):
            a = np.tanh(_apply(block["W1"], r(np.concatenate([h, z]))))
            c = np.tanh(_apply(block["W2"], r(c_u)))
            g = 1.0 / (1.0 + np.exp(-_apply(block["W3"], r(z))))
            h = a * (1.0 - g) + c * g
            for m, film in enumerate(block["film"]):
                gamma = _apply(film["scale"][1], r(self.lrelu(_apply(film["scale"][0], r(p[m])))))
                beta = _apply(film["shift"][1], r(self.lrelu(_apply(film["shift"][0], r(p[m])))))
                h = gamma * h + beta
                if m < self.n_modalities - 1:
                    h = self.lrelu(h)
            if b < self.n_blocks - 1:
                h = self.lrelu(h)
        xhat0 = _apply(self.output, r(h))
        if self.item_item is None:
            return self.cnet_scale * xhat0
        return self.cnet_scale * xhat0 + self.item_item_scale * (x @ self.item_item)


def top_k(scores, k, candidates=None, item_ids=None):
    """The k best rows of `scores` among `candidates` (all rows if None), ordered by score
    descending, then by row ascending (the library's tie order); as item ids if item_ids
    is given."""
    scores = np.asarray(scores)
    rows = np.arange(len(scores)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    order = np.lexsort((rows, -scores[rows].astype(np.float64)))
    chosen = rows[order[:k]]
    return chosen if item_ids is None else np.asarray(item_ids)[chosen]
