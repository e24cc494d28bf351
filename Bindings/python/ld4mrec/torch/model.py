"""LD4MRec in PyTorch: the C-Net, the condition signals and forward-free inference,
exactly as docs/MODEL.md and docs/FORMAT.md section 4 define them.

The module speaks *rows*, as ``nn.Embedding`` does: item rows ``0 .. n_items-1`` (the
order of ``item_ids`` and of full score vectors) and user rows ``0 .. n_users-1`` (the
rows of ``z_in``; ``-1`` means "no learned embedding": ``z_in_default``). External ids
map to rows with ``item_rows`` / ``user_rows``.
"""

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Hyperparameters", "Histories", "LD4MRec", "step_embedding", "one_minus_alpha_bar"]


@dataclass
class Hyperparameters:
    """Every hyperparameter of docs/MODEL.md, named as the model file's root attributes
    (docs/FORMAT.md section 2); the defaults are the spec's."""

    # Architecture.
    hidden_size: int = 1000
    svd_rank: int = 100
    step_embedding_size: int = 10
    n_blocks: int = 2
    film_hidden_size: int = 128
    leaky_relu_slope: float = 0.2
    # Diffusion.
    n_steps: int = 5
    noise_scale: float = 0.01
    noise_min: float = 1e-4
    # Training.
    soft_target_probability: float = 0.01
    soft_target_gamma: float = 0.01
    step_sampler: str = "importance"
    loss: str = "multinomial"
    learning_rate: float = 1e-3
    batch_size: int = 400
    max_epochs: int = 1000
    patience: int = 20
    input_dropout: float = 0.5
    hidden_dropout: float = 0.0     # dropout on the last hidden layer (the output layer's input)
    conditions_from_dropped_history: bool = True
    weight_decay: float = 0.0
    svd_oversamples: int = 10
    svd_power_iterations: int = 4
    feature_standardization: str = "training-items"
    seed: int = 0
    # C-Nets averaged into the saved one (a model file's record; this trainer trains one,
    # `ld4mrec train --cnets K` trains K).
    n_cnets: int = 1
    # Distillation (docs/MODEL.md, "Distillation"): the weight of a teacher's ranking in the
    # target (0: none; Trainer(..., teacher=...) names the teacher), its temperature, and
    # the teacher's C-Nets (recorded from the teacher). The weight is 0 here, where the
    # teacher must be a file; `ld4mrec train`'s default, 2, trains its own teacher first.
    # `--teacher` without a weight, and fine-tuning with a teacher, take that default.
    distillation_weight: float = 0.0
    distillation_temperature: float = 1.0
    teacher_cnets: int = 3
    # The item-item prior (docs/MODEL.md, "The item-item prior").
    item_item_prior: str = "auto"   # ease and knn up to ITEM_ITEM_MAX_ITEMS items (the better mixture), knn above
    ease_lambda: float = 50.0
    choose_ease_lambda: bool = True  # search lambda on validation around ease_lambda
    ensemble_weight: Optional[float] = None
    item_item_neighbours: int = 100  # the kNN prior's neighbours per item
    knn_popularity_exponent: float = 0.5  # beta of the kNN prior: the target's popularity divides to this power
    choose_knn_popularity_exponent: bool = True  # search beta on validation among 0, 0.1, ..., 1

    ARCHITECTURE = ("hidden_size", "svd_rank", "step_embedding_size", "n_blocks",
                    "film_hidden_size", "leaky_relu_slope")
    DISTILLATION_WEIGHT = 2.0  # `ld4mrec train`'s default, chosen on TikTok's validation
    ITEM_ITEM_MAX_ITEMS = 16384  # the dense prior (EASE) is not built above this many items

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def validate_architecture(self):
        for name, upper in (("hidden_size", 1 << 20), ("svd_rank", 1 << 20),
                            ("step_embedding_size", 1 << 20), ("n_blocks", 64),
                            ("film_hidden_size", 1 << 20), ("n_steps", 100_000)):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and 1 <= value <= upper):
                raise ValueError(f"{name} must be an integer in 1...{upper}, got {value!r}")
        if not 0 <= self.leaky_relu_slope < 1:
            raise ValueError(f"leaky_relu_slope must be in [0, 1), got {self.leaky_relu_slope}")

    def validate_training(self):
        """The checks of the Swift trainer (Hyperparameters.validateTraining)."""
        self.validate_architecture()
        checks = [
            (0 < self.noise_scale <= 1, f"noise_scale must be in (0, 1], got {self.noise_scale}"),
            (0 <= self.noise_min <= 1, f"noise_min must be in [0, 1], got {self.noise_min}"),
            (0 <= self.soft_target_probability <= 1, "soft_target_probability must be in [0, 1]"),
            (0 <= self.soft_target_gamma <= 1, "soft_target_gamma must be in [0, 1]"),
            (self.step_sampler in ("importance", "uniform"),
             f"step_sampler must be 'importance' or 'uniform', got {self.step_sampler!r}"),
            (self.loss in ("mse", "multinomial"), f"loss must be 'mse' or 'multinomial', got {self.loss!r}"),
            (self.learning_rate > 0 and math.isfinite(self.learning_rate),
             f"learning_rate must be positive, got {self.learning_rate}"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.max_epochs >= 1, "max_epochs must be at least 1"),
            (self.patience >= 1, "patience must be at least 1"),
            (0 <= self.input_dropout < 1, f"input_dropout must be in [0, 1), got {self.input_dropout}"),
            (0 <= self.hidden_dropout < 1, f"hidden_dropout must be in [0, 1), got {self.hidden_dropout}"),
            (self.weight_decay >= 0 and math.isfinite(self.weight_decay), "weight_decay must be non-negative"),
            (self.svd_oversamples >= 0 and self.svd_power_iterations >= 0,
             "svd_oversamples and svd_power_iterations must be non-negative"),
            (self.feature_standardization in ("training-items", "none"),
             f"feature_standardization must be 'training-items' or 'none', got {self.feature_standardization!r}"),
            (self.item_item_prior in ("none", "ease", "knn", "auto"),
             f"item_item_prior must be 'none', 'ease', 'knn' or 'auto', got {self.item_item_prior!r}"),
            (1 <= self.item_item_neighbours <= 1 << 16,
             f"item_item_neighbours must be in 1 ... 65536, got {self.item_item_neighbours}"),
            (0 <= self.knn_popularity_exponent <= 4,
             f"knn_popularity_exponent must be in [0, 4], got {self.knn_popularity_exponent}"),
            (self.ease_lambda > 0 and math.isfinite(self.ease_lambda),
             f"ease_lambda must be positive, got {self.ease_lambda}"),
            (self.ensemble_weight is None or 0 <= self.ensemble_weight <= 1,
             f"ensemble_weight must be in [0, 1], got {self.ensemble_weight}"),
            (0 <= int(self.seed) < 1 << 64, f"seed must be in 0 ... 2^64-1, got {self.seed}"),
            (self.n_cnets == 1, f"this trainer trains one C-Net (n_cnets 1), got {self.n_cnets}: "
                                "ld4mrec train --cnets K trains and averages K"),
            (self.distillation_weight >= 0 and math.isfinite(self.distillation_weight),
             f"distillation_weight must be non-negative, got {self.distillation_weight}"),
            (self.distillation_temperature > 0 and math.isfinite(self.distillation_temperature),
             f"distillation_temperature must be positive, got {self.distillation_temperature}"),
            (1 <= self.teacher_cnets <= 64, f"teacher_cnets must be in 1 ... 64, got {self.teacher_cnets}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def one_minus_alpha_bar(t, h):
    """1 - abar_t = s_noise (a_min + (t - 1) / (T - 1) (1 - a_min)) (Eq. 3), t in 1 ... T,
    in float64 (t: a tensor of steps)."""
    fraction = (t.double() - 1) / (h.n_steps - 1) if h.n_steps > 1 else torch.zeros_like(t, dtype=torch.float64)
    return h.noise_scale * (h.noise_min + fraction * (1 - h.noise_min))


def step_embedding(t, size):
    """z_t[2j] = sin(t / 10000^(2j/d_f)), z_t[2j+1] = cos(t / 10000^(2j/d_f)) (Eq. 17), for a
    tensor of steps t: (len(t), size) float32."""
    columns = torch.arange(size, device=t.device)
    exponent = (2 * (columns // 2)).double() / size
    angle = t.double()[:, None] / torch.pow(10000.0, exponent)[None, :]
    return torch.where(columns % 2 == 0, torch.sin(angle), torch.cos(angle)).float()


class Histories:
    """A batch of histories in CSR form: history ``b`` holds the item rows
    ``items[offsets[b]:offsets[b + 1]]`` (int64 tensors, ``offsets`` of length B + 1).

    Histories are sets: the constructors ``from_lists`` and ``from_csr`` sort each row and
    drop repeats; ``Histories(items, offsets)`` takes rows that already are sets as they
    are (the zero-copy path)."""

    def __init__(self, items, offsets):
        self.items = torch.as_tensor(items, dtype=torch.int64)
        self.offsets = torch.as_tensor(offsets, dtype=torch.int64, device=self.items.device)

    @classmethod
    def from_lists(cls, lists, n_items, device=None):
        """From a sequence of sequences of item rows (each in 0 ... n_items-1)."""
        arrays = [np.asarray(row, dtype=np.int64).reshape(-1) for row in lists]
        lengths = np.array([a.size for a in arrays], dtype=np.int64)
        items = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return cls.from_csr(offsets, items, n_items, device=device)

    @classmethod
    def from_csr(cls, offsets, items, n_items, device=None):
        """From CSR arrays (e.g. a scipy matrix's ``indptr``, ``indices``); rows are sorted
        and repeats dropped, rows outside 0 ... n_items-1 raise ValueError."""
        offsets = torch.as_tensor(np.asarray(offsets), dtype=torch.int64, device=device)
        items = torch.as_tensor(np.asarray(items), dtype=torch.int64, device=device)
        if offsets.dim() != 1 or offsets.numel() < 1 or int(offsets[0]) != 0 \
                or int(offsets[-1]) != items.numel() or bool((offsets.diff() < 0).any()):
            raise ValueError("offsets must start at 0, never decrease and end at len(items)")
        if items.numel() and (int(items.min()) < 0 or int(items.max()) >= n_items):
            raise ValueError(f"item rows must be in 0...{n_items - 1}")
        batch = offsets.numel() - 1
        rows = torch.repeat_interleave(torch.arange(batch, device=items.device), offsets.diff())
        keys = torch.unique(rows * n_items + items)  # sorted: by row, then item
        rows, items = keys // n_items, keys % n_items
        counts = torch.bincount(rows, minlength=batch)
        offsets = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
        return cls(items, offsets)

    def __len__(self):
        return self.offsets.numel() - 1

    @property
    def lengths(self):
        return self.offsets.diff()

    def to(self, device):
        return Histories(self.items.to(device), self.offsets.to(device))

    def row_of_item(self):
        """For each entry of ``items``, the index of its history."""
        return torch.repeat_interleave(torch.arange(len(self), device=self.items.device), self.lengths)

    def select(self, rows):
        """The histories at the given indices, as a new batch (no Python loop)."""
        rows = torch.as_tensor(rows, dtype=torch.int64, device=self.items.device)
        starts = self.offsets[rows]
        lengths = self.offsets[rows + 1] - starts
        offsets = torch.cat([lengths.new_zeros(1), torch.cumsum(lengths, 0)])
        within = torch.arange(int(offsets[-1]), device=rows.device) - torch.repeat_interleave(offsets[:-1], lengths)
        return Histories(self.items[torch.repeat_interleave(starts, lengths) + within], offsets)

    def mask(self, keep):
        """The histories with only the entries where ``keep`` (bool, one per item) is set."""
        kept_rows = self.row_of_item()[keep]
        counts = torch.bincount(kept_rows, minlength=len(self))
        return Histories(self.items[keep], torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)]))


def _leaky(x, slope):
    return F.leaky_relu(x, slope)


class FiLMNetwork(nn.Module):
    """MLP(p) = fc2(leaky_relu(fc1(p))): one FiLM scale or shift network."""

    def __init__(self, inputs, hidden, outputs, slope):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc2 = nn.Linear(hidden, outputs)
        self.slope = slope

    def forward(self, p):
        return self.fc2(_leaky(self.fc1(p), self.slope))


class Block(nn.Module):
    """One stacked block: the CG block (Eq. 18-20), then one FiLM step per modality (Eq. 21-22)."""

    def __init__(self, d, k, d_f, modality_sizes, film_hidden, slope):
        super().__init__()
        self.hidden = nn.Linear(d + d_f, d)      # W1 on [h ; z]
        self.condition = nn.Linear(2 * k, d)     # W2 on c_u
        self.gate = nn.Linear(d_f, d)            # W3 on z
        self.film_scale = nn.ModuleList(FiLMNetwork(d_m, film_hidden, d, slope) for d_m in modality_sizes)
        self.film_shift = nn.ModuleList(FiLMNetwork(d_m, film_hidden, d, slope) for d_m in modality_sizes)
        self.slope = slope

    def forward(self, h, z, c_u, preferences):
        a = torch.tanh(self.hidden(torch.cat([h, z], dim=1)))
        c = torch.tanh(self.condition(c_u))
        g = torch.sigmoid(self.gate(z))
        h = a * (1 - g) + c * g
        for m, (scale, shift) in enumerate(zip(self.film_scale, self.film_shift)):
            if m > 0:
                h = _leaky(h, self.slope)
            h = scale(preferences[m]) * h + shift(preferences[m])
        return h


class LD4MRec(nn.Module):
    """The LD4MRec model: frozen item tables (buffers), the C-Net and ``z_in`` (parameters).

    Parameters are stored in PyTorch's orientation, as the file stores them, except the
    input layer: ``input.weight`` is ``W_in`` transposed, ``(n_items, d)``, an
    ``nn.EmbeddingBag`` whose rows are the columns of ``W_in``, so that the input layer of a
    multi-hot history is a gather-sum of ``|history|`` contiguous rows (and training's dense
    ``x_t`` uses ``x_t @ input.weight``). Export transposes it back.

    Build one with ``Trainer`` (trained), ``ld4mrec.torch.load`` (from a model file) or
    directly from tables (weights initialised as MODEL.md says, from
    ``hyperparameters.seed``)."""

    def __init__(self, hyperparameters, *, item_ids, user_ids, svd_item_factors,
                 svd_singular_values, item_degrees, modalities=(), item_item=None, item_item_sparse=None,
                 score_scale_cnet=1.0, score_scale_item_item=0.0, histories=None,
                 initialize=True):
        super().__init__()
        h = hyperparameters
        h.validate_architecture()
        self.hyperparameters = h
        item_ids = torch.as_tensor(np.asarray(item_ids), dtype=torch.int64)
        user_ids = torch.as_tensor(np.asarray(user_ids), dtype=torch.int64)
        n, u = item_ids.numel(), user_ids.numel()
        d, k, d_f = h.hidden_size, h.svd_rank, h.step_embedding_size
        v = torch.as_tensor(np.asarray(svd_item_factors), dtype=torch.float32)
        s = torch.as_tensor(np.asarray(svd_singular_values), dtype=torch.float32)
        degrees = torch.as_tensor(np.asarray(item_degrees), dtype=torch.int64)
        if v.shape != (n, k) or s.shape != (k,) or degrees.shape != (n,):
            raise ValueError(f"signal tables must be V ({n}, {k}), s ({k},), degrees ({n},); got "
                             f"{tuple(v.shape)}, {tuple(s.shape)}, {tuple(degrees.shape)}")
        if not bool((s > 0).all()):
            raise ValueError("every singular value must be > 0 (lower svd_rank)")
        if bool((degrees < 0).any()):
            raise ValueError("item degrees must be >= 0")

        self.register_buffer("item_ids", item_ids)
        self.register_buffer("user_ids", user_ids)
        self.register_buffer("svd_item_factors", v)
        self.register_buffer("svd_singular_values", s)
        self.register_buffer("item_degrees", degrees)
        # deg_i^{-1/2}, 0 for cold items (MODEL.md: they add nothing to c_u's second half or p).
        inverse = torch.where(degrees > 0, degrees.clamp(min=1).double().rsqrt(), torch.zeros((), dtype=torch.float64))
        self.register_buffer("inverse_sqrt_degree", inverse.float(), persistent=False)
        self.modality_names = []
        for m, (name, features) in enumerate(modalities):
            features = torch.as_tensor(np.asarray(features), dtype=torch.float32)
            if features.dim() != 2 or features.shape[0] != n or features.shape[1] < 1:
                raise ValueError(f"modality {name!r}: features must be ({n}, d_m), got {tuple(features.shape)}")
            if not name or name in self.modality_names:
                raise ValueError(f"modality names must be non-empty and distinct, got {name!r}")
            self.modality_names.append(str(name))
            self.register_buffer(f"features_{m}", features)
        if item_item is not None:
            item_item = torch.as_tensor(np.asarray(item_item), dtype=torch.float32)
            if item_item.shape != (n, n):
                raise ValueError(f"item_item must be ({n}, {n}), got {tuple(item_item.shape)}")
        if item_item_sparse is not None:
            item_item_sparse = sparse_prior(*item_item_sparse, n)
        if item_item is not None and item_item_sparse is not None:
            raise ValueError("a model holds a dense or a sparse item-item prior, not both")
        if item_item is None and item_item_sparse is None and score_scale_item_item != 0:
            raise ValueError("score_scale_item_item must be 0 without an item-item table")
        self.register_buffer("item_item", item_item)
        # The sparse prior (each item's neighbours), as a COO tensor (n_items, n_items).
        self.register_buffer("item_item_sparse", item_item_sparse)
        self.register_buffer("score_scale_cnet", torch.tensor(float(score_scale_cnet)))
        self.register_buffer("score_scale_item_item", torch.tensor(float(score_scale_item_item)))
        self.training_histories = histories  # Histories over user rows (CPU), or None

        slope = h.leaky_relu_slope
        sizes = [self.features(m).shape[1] for m in range(self.n_modalities)]
        self.input = nn.EmbeddingBag(n, d, mode="sum", include_last_offset=True)  # weight = W_in^T (n_items, d)
        self.input_bias = nn.Parameter(torch.empty(d))
        self.blocks = nn.ModuleList(Block(d, k, d_f, sizes, h.film_hidden_size, slope) for _ in range(h.n_blocks))
        self.output = nn.Linear(d, n)
        self.z_in = nn.Parameter(torch.empty(u, d_f))
        self.register_buffer("z_in_default", torch.zeros(d_f))
        if initialize:
            self.reset_parameters()

    # ---- sizes and ids

    @property
    def n_items(self):
        return self.item_ids.numel()

    @property
    def n_users(self):
        return self.user_ids.numel()

    @property
    def n_modalities(self):
        return len(self.modality_names)

    def features(self, m):
        return getattr(self, f"features_{m}")

    def item_rows(self, ids):
        """Rows of item ids (int64 tensor), -1 for ids the model does not know."""
        return _rows_of(self.item_ids, ids)

    def user_rows(self, ids):
        """Rows of ``z_in`` for user ids, -1 for users without a learned embedding."""
        return _rows_of(self.user_ids, ids)

    def histories_from_ids(self, lists):
        """Histories of item *ids*, one sequence per user; unknown ids are skipped (as the
        library does). Returns (Histories, number of skipped ids)."""
        rows = [self.item_rows(torch.as_tensor(np.asarray(ids, dtype=np.int64).reshape(-1))) for ids in lists]
        skipped = sum(int((r < 0).sum()) for r in rows)
        return Histories.from_lists([r[r >= 0].cpu().numpy() for r in rows], self.n_items,
                                    device=self.item_ids.device), skipped

    # ---- initialisation (MODEL.md: Xavier-normal weights, biases N(0, 0.001^2), FiLM
    # scale = identity and shift = 0 at the start, z_in ~ N(0, 1))

    @torch.no_grad()
    def reset_parameters(self, seed=None):
        g = torch.Generator().manual_seed(int(self.hyperparameters.seed if seed is None else seed))

        def xavier(weight, bias):
            fan_out, fan_in = weight.shape
            weight.copy_(torch.randn(weight.shape, generator=g) * math.sqrt(2 / (fan_in + fan_out)))
            bias.copy_(torch.randn(bias.shape, generator=g) * 1e-3)

        xavier(self.input.weight.T, self.input_bias)  # W_in is (d, n_items)
        for block in self.blocks:
            for layer in (block.hidden, block.condition, block.gate):
                xavier(layer.weight, layer.bias)
            for networks, start in ((block.film_scale, 1.0), (block.film_shift, 0.0)):
                for film in networks:
                    xavier(film.fc1.weight, film.fc1.bias)
                    film.fc2.weight.zero_()
                    film.fc2.bias.fill_(start)
        xavier(self.output.weight, self.output.bias)
        self.z_in.copy_(torch.randn(self.z_in.shape, generator=g))
        self.refresh_z_in_default()

    @torch.no_grad()
    def refresh_z_in_default(self):
        """z_in_default = the mean of z_in (MODEL.md); zeros without users."""
        if self.n_users:
            self.z_in_default.copy_(self.z_in.mean(dim=0))
        else:
            self.z_in_default.zero_()

    # ---- the condition signals (MODEL.md; FORMAT.md section 4), functions of a history

    def condition_signals(self, histories):
        """(c_u (B, 2k), [p_m (B, d_m)]) for a batch of histories:
        c_u = [ (sum_i V_i) / s ; deg_u^{-1/2} sum_i deg_i^{-1/2} V_i ],
        p_m = deg_u^{-1/2} sum_i deg_i^{-1/2} f_{i,m}; cold items weigh 0 in the weighted sums."""
        items, offsets = histories.items, histories.offsets
        lengths = offsets.diff()
        r = torch.where(lengths > 0, lengths.clamp(min=1).float().rsqrt(), torch.zeros((), device=items.device))
        w = self.inverse_sqrt_degree[items]
        v = self.svd_item_factors
        fold_in = F.embedding_bag(items, v, offsets, mode="sum", include_last_offset=True) / self.svd_singular_values
        weighted = F.embedding_bag(items, v, offsets, mode="sum", include_last_offset=True, per_sample_weights=w)
        c_u = torch.cat([fold_in, weighted * r[:, None]], dim=1)
        preferences = [F.embedding_bag(items, self.features(m), offsets, mode="sum", include_last_offset=True,
                                       per_sample_weights=w) * r[:, None]
                       for m in range(self.n_modalities)]
        return c_u, preferences

    def history_sum(self, histories):
        """sum_{i in H} W_in[:, i] (B, d), without b_in: the gather-sum of the input layer."""
        return self.input(histories.items, histories.offsets)

    @property
    def has_item_item_prior(self):
        return self.item_item is not None or self.item_item_sparse is not None

    def item_item_sum(self, histories):
        """sum_{j in H} B[j, :] (B, n_items), the item-item prior's term, or None."""
        if self.item_item is not None:
            return F.embedding_bag(histories.items, self.item_item, histories.offsets, mode="sum",
                                   include_last_offset=True)
        if self.item_item_sparse is not None:
            return multi_hot_product(histories, self._item_item_csr())
        return None

    def _item_item_csr(self):
        """The sparse prior in CSR, converted once per prior tensor (a move to another device
        or a new prior is a new tensor)."""
        prior = self.item_item_sparse
        cached = getattr(self, "_csr_of_prior", None)
        if cached is None or cached[0] is not prior:
            cached = self._csr_of_prior = (prior, sparse_csr(prior))
        return cached[1]

    def user_embedding(self, users, batch):
        """z for inference: z_in[u] for rows u >= 0, z_in_default for -1 (or users=None)."""
        default = self.z_in_default.expand(batch, -1)
        if users is None or self.n_users == 0:
            return default
        users = torch.as_tensor(users, dtype=torch.int64, device=self.z_in.device).reshape(-1)
        if users.numel() != batch:
            raise ValueError(f"{users.numel()} users for {batch} histories")
        if users.numel() and (int(users.max()) >= self.n_users or int(users.min()) < -1):
            raise ValueError(f"user rows must be in -1 ... {self.n_users - 1}")
        return torch.where((users >= 0)[:, None], self.z_in[users.clamp(min=0)], default)

    # ---- the C-Net

    def hidden_states(self, h0, z, c_u, preferences):
        """From the input layer's output h0 = W_in x + b_in to the last hidden layer."""
        h = h0
        slope = self.hyperparameters.leaky_relu_slope
        for s, block in enumerate(self.blocks):
            if s > 0:
                h = _leaky(h, slope)
            h = block(h, z, c_u, preferences)
        return h

    def forward(self, x, users, step_embedding, c_u, preferences, hidden_mask=None):
        """Training's pass: xhat0 (B, n_items) for dense inputs x (B, n_items) (the noised,
        possibly dropped-out x_t), user rows (B,), step embeddings z_t (B, d_f) and the
        condition signals; z = z_t + z_in[u]. hidden_mask (B, d), hidden dropout's 0 or
        1 / (1 - p), multiplies the last hidden layer."""
        h0 = torch.addmm(self.input_bias, x, self.input.weight)
        z = step_embedding + self.z_in[users]
        h = self.hidden_states(h0, z, c_u, preferences)
        return self.output(h if hidden_mask is None else h * hidden_mask)

    # ---- forward-free inference (Algorithm 2): one C-Net pass on the observed history

    def _hidden_for(self, histories, users):
        c_u, preferences = self.condition_signals(histories)
        h0 = self.history_sum(histories) + self.input_bias
        return self.hidden_states(h0, self.user_embedding(users, len(histories)), c_u, preferences)

    @torch.inference_mode()
    def scores(self, histories, users=None):
        """Full score vectors (B, n_items) float32: a xhat0 + b sum_{j in H} B[j, :]
        (FORMAT.md section 4). users: user rows (-1: z_in_default) or None (all default)."""
        histories = histories.to(self.item_ids.device)
        scores = self.output(self._hidden_for(histories, users))
        a, b = float(self.score_scale_cnet), float(self.score_scale_item_item)
        if a != 1:
            scores.mul_(a)
        if self.has_item_item_prior and b != 0:
            scores.add_(self.item_item_sum(histories), alpha=b)
        return scores

    @torch.inference_mode()
    def score_candidates(self, histories, candidates, users=None):
        """Scores of candidate item rows only (B, C): one dot product with W_out per
        candidate, no full output layer. candidates: (C,) shared by the batch or (B, C)."""
        histories = histories.to(self.item_ids.device)
        h = self._hidden_for(histories, users)
        candidates = torch.as_tensor(candidates, dtype=torch.int64, device=h.device)
        weight, bias = self.output.weight, self.output.bias
        if candidates.dim() == 1:
            cnet = torch.addmm(bias[candidates], h, weight[candidates].T)
            candidates = candidates.expand(len(histories), -1)
        else:
            cnet = torch.einsum("bd,bcd->bc", h, weight[candidates]) + bias[candidates]
        if not self.has_item_item_prior or float(self.score_scale_item_item) == 0:
            return cnet * self.score_scale_cnet
        if self.item_item is None:
            prior = self.item_item_sum(histories).gather(1, candidates)
        else:
            rows = histories.row_of_item()
            prior = cnet.new_zeros(cnet.shape).index_add_(
                0, rows, self.item_item[histories.items[:, None], candidates[rows]])
        return cnet * self.score_scale_cnet + prior * self.score_scale_item_item

    @torch.inference_mode()
    def recommend(self, histories, users=None, k=20, exclude_history=True):
        """The k best item rows per history, best first: (rows (B, k') int64, scores (B, k')
        float32), k' = min(k, n_items). Where fewer than k' items are left (history
        excluded), rows are -1 and scores -inf. Equal scores rank by lower row."""
        histories = histories.to(self.item_ids.device)
        scores = self.scores(histories, users)
        if exclude_history:
            scores.index_put_((histories.row_of_item(), histories.items),
                              scores.new_tensor(float("-inf")))
        return top_k(scores, k)


def sparse_csr(prior):
    """A sparse COO tensor in CSR."""
    with warnings.catch_warnings():  # torch calls sparse CSR tensors beta
        warnings.simplefilter("ignore", UserWarning)
        return prior.to_sparse_csr()


def multi_hot_product(histories, prior_csr):
    """sum_{j in H} prior[j, :] for each history (B, n), dense: the multi-hot histories times
    the sparse prior, both in CSR (for TikTok's heaviest 400 users, 2.3x faster than
    torch.sparse.mm on COO tensors; the same sums)."""
    rows = histories.row_of_item()
    x = torch.sparse_coo_tensor(torch.stack([rows, histories.items]), torch.ones(rows.numel(), device=rows.device),
                                (len(histories), prior_csr.shape[0]), check_invariants=True)
    with warnings.catch_warnings():  # torch calls sparse CSR tensors beta
        warnings.simplefilter("ignore", UserWarning)
        return (x.to_sparse_csr() @ prior_csr).to_dense()


def sparse_prior(offsets, columns, values, n):
    """The sparse prior's CSR tables as a COO tensor (n, n), checked."""
    offsets, columns = np.asarray(offsets, dtype=np.int64), np.asarray(columns, dtype=np.int64)
    values = np.asarray(values, dtype=np.float32)
    if (offsets.shape != (n + 1,) or offsets[0] != 0 or offsets[-1] != columns.size or (np.diff(offsets) < 0).any()
            or values.shape != columns.shape or (columns.size and (columns.min() < 0 or columns.max() >= n))):
        raise ValueError("the sparse item-item prior must be CSR: n_items + 1 offsets from 0 to len(columns), "
                         "columns in 0 ... n_items - 1, one value per column")
    rows = np.repeat(np.arange(n), np.diff(offsets))
    return torch.sparse_coo_tensor(torch.from_numpy(np.stack([rows, columns])), torch.from_numpy(values),
                                   (n, n), check_invariants=True).coalesce()


def sparse_tables(prior):
    """(offsets, columns, values) NumPy arrays of a coalesced COO prior, as the file stores them."""
    rows, columns = prior.indices().cpu().numpy()
    offsets = np.zeros(prior.shape[0] + 1, dtype=np.int64)
    np.add.at(offsets, rows + 1, 1)
    return np.cumsum(offsets), columns.astype(np.int64), prior.values().cpu().numpy().astype(np.float32)


def top_k(scores, k):
    """(rows, scores) of the k best entries per row of `scores`, equal scores by lower row
    (as the library: which of several equal scores make the cut is decided too); -inf
    entries come back as row -1."""
    k = min(int(k), scores.shape[1])
    # One more than asked: where the (k+1)-th score equals the k-th, topk has left open
    # which of the equal scores it keeps, and those lines take the lowest rows of them.
    values, rows = torch.topk(scores, min(k + 1, scores.shape[1]), dim=1, sorted=True)
    open_lines = torch.nonzero(values[:, k] == values[:, k - 1]).reshape(-1) if 0 < k < values.shape[1] else []
    values, rows = values[:, :k].contiguous(), rows[:, :k].contiguous()
    if k > 0:
        cut = values[:, -1:]
        if len(open_lines):
            lines, line_cut = scores[open_lines], cut[open_lines]
            above, tied = lines > line_cut, lines == line_cut
            chosen = above | (tied & (tied.cumsum(1) <= k - above.sum(1, keepdim=True)))
            rows[open_lines] = chosen.nonzero()[:, 1].reshape(-1, k)
            values[open_lines] = lines.gather(1, rows[open_lines])
    # Then (score desc, row asc) within the k.
    by_row = torch.argsort(rows, dim=1)
    rows, values = rows.gather(1, by_row), values.gather(1, by_row)
    order = torch.argsort(-values, dim=1, stable=True)
    rows, values = rows.gather(1, order), values.gather(1, order)
    return torch.where(torch.isneginf(values), torch.full_like(rows, -1), rows), values


def _rows_of(ids_table, ids):
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.int64, device=ids_table.device).reshape(-1)
    if ids_table.numel() == 0:
        return torch.full_like(ids, -1)
    order = torch.argsort(ids_table)
    sorted_ids = ids_table[order]
    position = torch.searchsorted(sorted_ids, ids).clamp(max=ids_table.numel() - 1)
    found = sorted_ids[position] == ids
    return torch.where(found, order[position], torch.full_like(ids, -1))
