"""Training LD4MRec in PyTorch (docs/MODEL.md, Algorithm 1), on one process or many
(the command line is ld4mrec.torch.train).

The semantics are the Swift trainer's (Trainer.swift): users with a training item,
shuffled each epoch, minibatches of ``batch_size``; per user a step t from the step
sampler, x_t = sqrt(abar_t) x_in + sqrt(1 - abar_t) eps, optional inverted input dropout on
x_t, the soft target, the loss (mse or multinomial) weighted by the importance sampler's
1 / (T p_t); Adam with PyTorch's L2 weight decay; validation Recall@20 after each epoch
with the serving pass; early stopping keeping the best weights; then the EASE item-item
prior mixed in with the weight chosen on validation. Random streams are not the Swift
side's: the same seed gives another (equally valid) run.

Distributed (torch.distributed initialised, e.g. by torchrun): each global minibatch is
split across ranks and the model is wrapped in DistributedDataParallel. Randomness is drawn
per block of ``RNG_BLOCK`` users of the global minibatch from a generator seeded by (seed,
epoch, minibatch, block), never by rank, and ranks own whole blocks, so any number of
processes draws the same t, eps, dropout and target for every user: the runs differ only by
the rounding of the gradient sums (see README, "Training at scale"). The importance
sampler's records and the validation metrics are all-reduced, so every rank takes the same
decisions; rank 0 mixes the item-item prior in, writes checkpoints and the model file.
"""

import dataclasses
import inspect
import math
import os
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from . import signals
from .model import Hyperparameters, LD4MRec, multi_hot_product, one_minus_alpha_bar, sparse_csr, step_embedding, top_k

__all__ = ["Metrics", "EpochReport", "TrainingResult", "Trainer", "StepSampler", "evaluate"]

RNG_BLOCK = 16  # users per random stream: the unit of work a rank owns in a minibatch
_MASK = (1 << 64) - 1
_EPOCH_TAG, _BATCH_TAG = 0xE70C, 0xBA7C


def _splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _seed(*parts):
    """A 64-bit seed mixing the parts (SplitMix64), for torch.Generator.manual_seed."""
    x = 0
    for part in parts:
        x = _splitmix(x ^ (int(part) & _MASK))
    return x


# ------------------------------------------------------------------------------------
# Metrics
# ------------------------------------------------------------------------------------


@dataclass
class Metrics:
    """All-ranking metrics (MODEL.md): the user's training items masked, averaged over
    users with at least one held-out item."""
    recall10: float = 0.0
    recall20: float = 0.0
    ndcg10: float = 0.0
    ndcg20: float = 0.0
    users: int = 0


def _ranking_sums(scores, train, held_out):
    """[sum recall@10, recall@20, ndcg@10, ndcg@20, users] (float64) of one chunk of users:
    scores (B, n), their training histories (masked) and held-out histories."""
    scores.index_put_((train.row_of_item(), train.items), scores.new_tensor(float("-inf")))
    rows, _ = top_k(scores, 20)
    truth = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
    truth[held_out.row_of_item(), held_out.items] = True
    hits = (truth.gather(1, rows.clamp(min=0)) & (rows >= 0)).double()
    counts = held_out.lengths.double()
    discount = 1 / torch.log2(torch.arange(hits.shape[1], device=hits.device, dtype=torch.float64) + 2)
    ideal = torch.cumsum(discount, 0)
    sums = [(hits[:, :k].sum(1) / counts).sum() for k in (10, 20)]
    for k in (10, 20):
        idcg = ideal[(counts.clamp(max=min(k, hits.shape[1])) - 1).long()]
        sums.append(((hits[:, :k] * discount[:k]).sum(1) / idcg).sum())
    return torch.stack(sums + [counts.new_tensor(len(counts))])


def _prior_scores(history, prior):
    """Each history's sum of its items' rows of the prior (dense or sparse), dense
    (users x items)."""
    if not prior.is_sparse:
        return F.embedding_bag(history.items, prior, history.offsets, mode="sum", include_last_offset=True)
    return multi_hot_product(history, sparse_csr(prior.to(history.items.device)))


def _metrics(sums):
    users = int(sums[4])
    if users == 0:
        return Metrics()
    return Metrics(*(float(v) / users for v in sums[:4]), users=users)


def evaluate(model, dataset, split="test", batch_size=512):
    """Recall@10/20 and NDCG@10/20 of ``model`` on a split of ``dataset`` (MODEL.md's
    protocol): each user's training items are the history, scored with the serving pass
    (z_in[u]) and masked. The model's ids must be the dataset's."""
    return _metrics(_evaluation_sums(model, dataset, split, batch_size))


def _evaluation_sums(model, dataset, split, batch_size=512, shard=(0, 1)):
    """The sums of _ranking_sums over every `shard[1]`-th user from `shard[0]` on."""
    _require_same_ids(model, dataset)
    device = model.item_ids.device
    with torch.inference_mode():
        train, held = dataset.train.to(device), dataset.split(split).to(device)
        users = torch.nonzero(held.lengths > 0).reshape(-1)[shard[0]::shard[1]]
        sums = torch.zeros(5, dtype=torch.float64, device=device)
        for chunk in users.split(batch_size):
            history = train.select(chunk)
            sums += _ranking_sums(model.scores(history, chunk), history, held.select(chunk))
    return sums.clone()  # out of inference mode: a tensor all_reduce may write


class TeacherRanking:
    """A teacher's ranking for distillation (docs/MODEL.md, "Distillation"): q_u, the
    softmax over the items outside user u's training history of the teacher's scores,
    standardised over those items and divided by the temperature; 0 on the history. The
    rows are computed once and kept while users x items floats fit ``cache_bytes``, else
    for each minibatch (as the Swift trainer does)."""

    DEFAULT_CACHE_BYTES = 1 << 30

    def __init__(self, teacher, train, temperature, cache_bytes=DEFAULT_CACHE_BYTES, chunk=256):
        """teacher: a model, or any recommender's scores (users x items; _teacher_scores),
        whose rows are all turned into q at once: they are in memory already."""
        self.train, self.temperature = train, temperature
        self.teacher, self.scores = (teacher.eval(), None) if isinstance(teacher, torch.nn.Module) else (None, teacher)
        n_users = len(train)
        n_items = int(teacher.item_ids.numel()) if self.teacher is not None else teacher.shape[1]
        self.cache = None
        if self.scores is not None or n_users * n_items * 4 <= cache_bytes:
            self.cache = torch.cat([self._compute(torch.arange(start, min(start + chunk, n_users), device=train.items.device))
                                    for start in range(0, n_users, chunk)])

    def rows(self, users):
        """q of ``users`` (B, n_items)."""
        return self.cache[users] if self.cache is not None else self._compute(users)

    def _compute(self, users):
        history = self.train.select(users)
        scores = (self.teacher.scores(history, users) if self.teacher is not None else self.scores[users]).double()
        outside = torch.ones_like(scores, dtype=torch.bool)
        outside[history.row_of_item(), history.items] = False
        count = outside.sum(1, keepdim=True)
        mean = torch.where(outside, scores, 0).sum(1, keepdim=True) / count.clamp(min=1)
        spread = (torch.where(outside, scores - mean, 0) ** 2).sum(1, keepdim=True).div(count.clamp(min=1)).sqrt()
        if not bool(torch.isfinite(torch.where(outside, scores, 0)).all()):
            raise ValueError("the teacher's scores are not finite: it cannot teach")
        z = ((scores - mean) / (spread.clamp(min=1e-12) * self.temperature)).masked_fill(~outside, float("-inf"))
        q = torch.softmax(z, dim=1).nan_to_num_(0.0)  # a history of every item: a row of zeros
        return q.float()


def _teacher_scores(scores, dataset):
    """Any recommender's scores of every user and item of ``dataset`` (a numpy array or
    tensor, users x items: row u the dataset's user u, column i its item i) as float32."""
    scores = torch.as_tensor(scores).float()
    if tuple(scores.shape) != (dataset.n_users, dataset.n_items):
        shape = " x ".join(map(str, scores.shape))
        raise ValueError(f"the teacher's scores are {shape}; this dataset needs one row per user and one column "
                         f"per item: {dataset.n_users} x {dataset.n_items}")
    return scores


def _require_same_ids(model, dataset):
    if not (np.array_equal(model.item_ids.cpu().numpy(), dataset.item_ids)
            and np.array_equal(model.user_ids.cpu().numpy(), dataset.user_ids)):
        raise ValueError("the model's item and user ids must be the dataset's (item row i = dataset item i, "
                         "user row u = dataset user u), as for a model trained on this dataset")


# ------------------------------------------------------------------------------------
# The step sampler
# ------------------------------------------------------------------------------------


class StepSampler:
    """Importance sampling over diffusion steps (MODEL.md): uniform with weight 1 until
    every step holds 10 loss records, then p_t proportional to sqrt(mean of squared
    records) mixed with a uniform floor of 0.001, and weight 1 / (T p_t). A record is the
    mean unweighted loss of the users of one (global) minibatch who drew that step."""

    HISTORY = 10
    UNIFORM_FLOOR = 0.001

    def __init__(self, steps, importance):
        self.steps = steps
        self.importance = importance
        self.records = [[] for _ in range(steps)]

    def probabilities(self):
        if not self.importance or any(len(r) < self.HISTORY for r in self.records):
            return None
        raw = np.array([math.sqrt(sum(x * x for x in r) / len(r)) for r in self.records])
        total = raw.sum()
        if not (total > 0 and math.isfinite(total)):
            return None
        return raw / total * (1 - self.UNIFORM_FLOOR) + self.UNIFORM_FLOOR / self.steps

    def draw(self, uniforms):
        """Steps t in 1 ... T (int64) and loss weights (float32) for uniforms in [0, 1)."""
        p = self.probabilities()
        if p is None:
            index = (uniforms * self.steps).long().clamp(max=self.steps - 1)
            return index + 1, torch.ones(uniforms.shape, dtype=torch.float32, device=uniforms.device)
        p = torch.as_tensor(p, dtype=torch.float64, device=uniforms.device)
        index = torch.searchsorted(torch.cumsum(p, 0), uniforms, right=True).clamp(max=self.steps - 1)
        return index + 1, (1 / (self.steps * p[index])).float()

    def record(self, sums, counts):
        for t in range(self.steps):
            if counts[t] > 0:
                self.records[t].append(float(sums[t] / counts[t]))
                del self.records[t][:-self.HISTORY]


# ------------------------------------------------------------------------------------
# The trainer
# ------------------------------------------------------------------------------------


@dataclass
class EpochReport:
    epoch: int
    loss: float            # mean over the epoch's minibatches of the importance-weighted loss
    validation: Metrics    # of the C-Net alone, as early stopping sees it
    seconds: float
    is_best: bool
    best_epoch: int


@dataclass
class TrainingResult:
    model: LD4MRec               # the best epoch's weights (+ the item-item prior on rank 0)
    best_epoch: int
    best_validation: Metrics     # the C-Net alone at the best epoch
    final_validation: Metrics    # the saved model (with the prior, when mixed in)
    epochs: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@dataclass
class Batch:
    """One rank's part of a minibatch, as the C-Net sees it in training."""
    users: torch.Tensor          # user rows (B,)
    x: torch.Tensor              # x_t (B, n_items)
    c_u: torch.Tensor            # (B, 2k)
    preferences: list            # [(B, d_m)]
    step_embedding: torch.Tensor  # z_t (B, d_f)
    target: torch.Tensor         # the soft target (B, n_items)
    steps: torch.Tensor          # t in 1 ... T (B,)
    weights: torch.Tensor        # importance weights 1 / (T p_t) (B,)
    hidden_mask: Optional[torch.Tensor] = None  # hidden dropout: 0 or 1 / (1 - p) (B, d)


def _distributed():
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Trainer:
    """Trains an LD4MRec module on a Dataset (Algorithm 1).

    - ``Trainer(dataset, hyperparameters)``: a new model; the frozen signals (randomized SVD,
      degrees, standardised features) are computed here in torch (float64), on rank 0 and
      broadcast to the other ranks.
    - ``Trainer(dataset, hyperparameters, model=ld4mrec.torch.load(path))``: fine-tunes a
      model (e.g. one the Swift CLI trained on this dataset); its frozen signals are kept
      as the file has them, its architecture must match ``hyperparameters`` (default: the
      model's own, with ``ensemble_weight=None``, and ``distillation_weight`` 0 unless a
      teacher is given; see ``Hyperparameters.replace``), and a prior in the file is
      re-mixed (with the file's recorded ``ensemble_weight`` only if ``hyperparameters``
      keeps it).
    - ``teacher=ld4mrec.torch.load(path)``: distillation (docs/MODEL.md), with a
      ``distillation_weight`` above 0: each target gains the teacher's ranking. This
      trainer does not train a teacher (``ld4mrec train`` does, by default); a teacher is a
      model file of the same dataset, e.g. one of ``ld4mrec train --cnets 3``, or any
      recommender's scores of every user and item of the dataset (a users x items numpy
      array or tensor: row u the dataset's user u, column i its item i).
      As in a new run, epoch 0 (the starting weights) is not evaluated: the best trained
      epoch is kept.

    Runs on ``device`` (default: the model's, else CPU) and, when torch.distributed is
    initialised, on every rank with DistributedDataParallel. ``fit()`` runs Algorithm 1 to
    the end; ``train_epoch()`` and ``validate()`` are its two halves. ``checkpoint``: a
    path rank 0 rewrites after every epoch (atomically); ``load_checkpoint`` resumes."""

    def __init__(self, dataset, hyperparameters=None, *, model=None, device=None, checkpoint=None, teacher=None):
        self.rank, self.world = _distributed()
        self.dataset = dataset
        self.notes = []
        if model is None:
            h = hyperparameters or Hyperparameters()
            h.validate_training()
            if dataset.train.items.numel() == 0:
                raise ValueError("the dataset has no training interactions")
            model = self._new_model(dataset, h)
        else:
            # The file's ensemble_weight records the weight chosen then: by default, choose
            # again; its distillation_weight, how it was trained: it distils again only from
            # a teacher given here.
            if hyperparameters is None:
                recorded = model.hyperparameters
                distil = (recorded.distillation_weight or Hyperparameters.DISTILLATION_WEIGHT) if teacher is not None else 0.0
                hyperparameters = recorded.replace(ensemble_weight=None, distillation_weight=distil)
            h = hyperparameters
            for name in Hyperparameters.ARCHITECTURE:
                if getattr(h, name) != getattr(model.hyperparameters, name):
                    raise ValueError(f"hyperparameter {name} = {getattr(h, name)} differs from the model's "
                                     f"{getattr(model.hyperparameters, name)}")
            h.validate_training()
            _require_same_ids(model, dataset)
        if (teacher is not None) != (h.distillation_weight > 0):
            raise ValueError("a teacher is used with a distillation_weight above 0 (it is "
                             f"{h.distillation_weight}), and distillation needs a teacher: teacher=ld4mrec.torch.load(file), "
                             "or distillation_weight=0 (e.g. to fine-tune a distilled model without its teacher)")
        given_scores = teacher is not None and not isinstance(teacher, torch.nn.Module)
        if given_scores:
            teacher = _teacher_scores(teacher, dataset)
        elif teacher is not None:
            _require_same_ids(teacher, dataset)
            h = h.replace(teacher_cnets=teacher.hyperparameters.n_cnets)
        self.hyperparameters = h
        self.device = torch.device(device) if device is not None else model.item_ids.device
        model.hyperparameters = h
        # A loaded model's prior: kept, re-mixed after training.
        self._prior = model.item_item if model.item_item is not None else model.item_item_sparse
        self.model = model.to(self.device).train()
        self._cnet_only()
        self._network = model
        if self.world > 1:
            ddp = torch.nn.parallel.DistributedDataParallel
            # The buffers are frozen tables, identical on every rank: never re-send them.
            no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(ddp).parameters
                       else {"broadcast_buffers": False})
            self._network = ddp(model, device_ids=[self.device] if self.device.type == "cuda" else None, **no_sync)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=h.learning_rate, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=h.weight_decay)
        self.sampler = StepSampler(h.n_steps, h.step_sampler == "importance")
        self.checkpoint = checkpoint
        self.epoch = 0
        self.reports = []
        self._best = (0, Metrics(recall20=-1.0), self._parameters())  # epoch 0: the initial weights

        self._train = dataset.train.to(self.device)
        self._teacher = None
        if teacher is not None:
            if not given_scores and not torch.equal(teacher.item_degrees.cpu(), model.item_degrees.cpu()):
                raise ValueError("the teacher was not trained on this dataset (its training interactions differ)")
            self._teacher = TeacherRanking(teacher.to(self.device), self._train, h.distillation_temperature)
        self._train_users = torch.nonzero(self._train.lengths > 0).reshape(-1)
        self._has_validation = bool((dataset.valid.lengths > 0).any())
        steps = torch.arange(h.n_steps + 1, device=self.device)
        noise = one_minus_alpha_bar(steps, h)
        self._signal = (1 - noise).sqrt().float()
        self._spread = noise.sqrt().float()
        self._step_embeddings = step_embedding(steps, h.step_embedding_size)

    # ---- setup

    def _new_model(self, dataset, h):
        n = dataset.n_items
        degrees = signals.item_degrees(dataset.train, n)
        if self.rank == 0:
            try:
                tables = signals.randomized_svd(dataset.train, n, h.svd_rank, h.svd_oversamples,
                                                h.svd_power_iterations, h.seed)
            except ValueError as error:
                tables = str(error)
        else:
            tables = None
        if self.world > 1:  # one SVD, the same tables on every rank
            box = [tables]
            dist.broadcast_object_list(box, src=0)
            tables = box[0]
        if isinstance(tables, str):
            raise ValueError(tables)
        v, s = tables
        modalities = [(name, signals.standardize_features(features, degrees)
                       if h.feature_standardization == "training-items" else features)
                      for name, features in dataset.modalities]
        return LD4MRec(h, item_ids=dataset.item_ids, user_ids=dataset.user_ids, svd_item_factors=v,
                       svd_singular_values=s, item_degrees=degrees, modalities=modalities,
                       histories=dataset.train)

    def _cnet_only(self):
        """Train and validate the C-Net alone (as the Swift trainer does); fit() mixes the
        prior in at the end."""
        self.model.item_item = None
        self.model.score_scale_cnet.fill_(1)
        self.model.score_scale_item_item.fill_(0)

    def _parameters(self):
        return {name: p.detach().clone() for name, p in self.model.named_parameters()}

    # ---- one epoch

    def train_epoch(self):
        """One epoch of Algorithm 1 over every user with a training item (no validation);
        returns the mean importance-weighted loss of its minibatches."""
        h = self.hyperparameters
        self.epoch += 1
        self.model.train()
        shuffle = torch.Generator().manual_seed(_seed(h.seed, _EPOCH_TAG, self.epoch))
        order = self._train_users[torch.randperm(self._train_users.numel(), generator=shuffle).to(self.device)]
        losses = [self._minibatch(order[start:start + h.batch_size], index)
                  for index, start in enumerate(range(0, order.numel(), h.batch_size))]
        self.model.refresh_z_in_default()
        return sum(losses) / max(1, len(losses))

    def _draws(self, users, batch_index):
        """This rank's users of a global minibatch and their random draws: uniforms for t,
        eps, dropout and target uniforms, then hidden dropout's, from one generator per block
        of RNG_BLOCK users."""
        h, n = self.hyperparameters, self.dataset.n_items
        blocks = (users.numel() + RNG_BLOCK - 1) // RNG_BLOCK
        mine = range(blocks * self.rank // self.world, blocks * (self.rank + 1) // self.world)
        parts = []
        for block in mine:
            rows = users[block * RNG_BLOCK:(block + 1) * RNG_BLOCK]
            g = torch.Generator(device=self.device).manual_seed(_seed(h.seed, _BATCH_TAG, self.epoch, batch_index, block))
            b = rows.numel()
            parts.append((rows, torch.rand(b, generator=g, dtype=torch.float64, device=self.device),
                          torch.randn(b, n, generator=g, device=self.device),
                          torch.rand(b, n, generator=g, device=self.device) if h.input_dropout > 0 else None,
                          torch.rand(b, n, generator=g, device=self.device) if h.soft_target_probability > 0 else None,
                          torch.rand(b, h.hidden_size, generator=g, device=self.device) if h.hidden_dropout > 0 else None))
        if not parts:  # more ranks than blocks: this rank takes part with an empty batch
            empty = torch.zeros(0, n, device=self.device)
            return (torch.zeros(0, dtype=torch.int64, device=self.device),
                    torch.zeros(0, dtype=torch.float64, device=self.device), empty, empty, empty,
                    torch.zeros(0, h.hidden_size, device=self.device))
        return tuple(torch.cat([p[i] for p in parts]) if parts[0][i] is not None else None for i in range(6))

    def batch(self, global_users, batch_index):
        """This rank's part of a global minibatch as the C-Net sees it (Algorithm 1): a
        Batch of user rows, x_t (noised, input dropout applied), the condition signals, the
        step embeddings z_t, the soft target, the steps and their loss weights."""
        h = self.hyperparameters
        users, uniforms, x, dropout_uniforms, target_uniforms, hidden_uniforms = self._draws(global_users, batch_index)
        steps, weights = self.sampler.draw(uniforms)
        history = self._train.select(users)
        rows, items = history.row_of_item(), history.items

        # x_t = sqrt(abar_t) x_in + sqrt(1 - abar_t) eps, then inverted input dropout.
        x.mul_(self._spread[steps][:, None])
        x.index_put_((rows, items), self._signal[steps][rows], accumulate=True)
        conditioned = history
        if h.input_dropout > 0:
            keep = dropout_uniforms >= h.input_dropout
            x.masked_fill_(~keep, 0).div_(1 - h.input_dropout)
            if h.conditions_from_dropped_history:
                conditioned = history.mask(keep[rows, items])
        with torch.no_grad():
            c_u, preferences = self.model.condition_signals(conditioned)

        # Soft target: each positive becomes 1 - gamma, each zero gamma, with probability p.
        p, gamma = h.soft_target_probability, h.soft_target_gamma
        if p > 0:
            flipped = target_uniforms < p
            target = flipped.float().mul_(gamma)
            target[rows, items] = torch.where(flipped[rows, items], 1 - gamma, 1.0)
        else:
            target = torch.zeros_like(x)
            target[rows, items] = 1.0
        if self._teacher is not None:  # distillation: + alpha |history| q
            target.addcmul_(history.lengths.float()[:, None] * h.distillation_weight, self._teacher.rows(users))
        hidden_mask = None
        if h.hidden_dropout > 0:
            hidden_mask = (hidden_uniforms >= h.hidden_dropout).float().div_(1 - h.hidden_dropout)
        return Batch(users, x, c_u, preferences, self._step_embeddings[steps], target, steps, weights, hidden_mask)

    def _minibatch(self, global_users, batch_index):
        h = self.hyperparameters
        b = self.batch(global_users, batch_index)
        output = self._network(b.x, b.users, b.step_embedding, b.c_u, b.preferences, b.hidden_mask)
        if h.loss == "mse":
            per_user = (output - b.target).pow_(2).mean(dim=1)
        else:
            per_user = -(b.target * F.log_softmax(output, dim=1)).sum(dim=1)
        # Mean over the global minibatch; DDP averages gradients over ranks, hence x world.
        loss = (per_user * b.weights).sum() * (self.world / global_users.numel())

        # Global statistics: the weighted loss, and per step the sum and count of losses.
        detached = per_user.detach().double()
        stats = torch.cat([(detached * b.weights.double()).sum()[None],
                           torch.zeros(h.n_steps, dtype=torch.float64, device=detached.device)
                           .index_add_(0, b.steps - 1, detached),
                           torch.bincount(b.steps - 1, minlength=h.n_steps).double()])
        if self.world > 1:
            dist.all_reduce(stats)
        total = float(stats[0]) / global_users.numel()
        if not math.isfinite(total):
            raise FloatingPointError(f"training diverged at epoch {self.epoch} (loss {total}); lower the learning rate")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.sampler.record(stats[1:1 + h.n_steps].tolist(), stats[1 + h.n_steps:].tolist())
        return total

    # ---- validation and the whole run

    def validate(self, split="valid"):
        """Metrics of the current model on a split (the serving pass, training items
        masked), all-reduced over ranks."""
        sums = _evaluation_sums(self.model, self.dataset, split, shard=(self.rank, self.world))
        if self.world > 1:
            dist.all_reduce(sums)
        return _metrics(sums)

    def fit(self, progress=None):
        """Epochs until ``max_epochs`` or ``patience`` epochs without a better validation
        Recall@20 (without validation interactions: every epoch, keeping the last); then
        the best weights, z_in_default = mean of z_in, and on rank 0 the item-item prior.
        ``progress(report)`` is called after each epoch on every rank."""
        h = self.hyperparameters
        self._cnet_only()
        if not self._has_validation:
            self.notes.append("no validation interactions: no early stopping, the last epoch is kept")
        while self.epoch < h.max_epochs and self.epoch - self._best[0] < h.patience:
            start = time.monotonic()
            loss = self.train_epoch()
            metrics = self.validate()
            is_best = metrics.recall20 > self._best[1].recall20 or not self._has_validation
            if is_best:
                self._best = (self.epoch, metrics, self._parameters())
            report = EpochReport(self.epoch, loss, metrics, time.monotonic() - start, is_best, self._best[0])
            self.reports.append(report)
            if self.checkpoint and self.rank == 0:
                self.save_checkpoint(self.checkpoint)
            if progress:
                progress(report)
        best_epoch, best_metrics, best_parameters = self._best
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                p.copy_(best_parameters[name])
        self.model.refresh_z_in_default()
        self.model.eval()
        final = self._mix_item_item(best_metrics) if self.rank == 0 else best_metrics
        return TrainingResult(self.model, best_epoch, best_metrics, final, list(self.reports), list(self.notes))

    # ---- the item-item prior (MODEL.md, "The item-item prior")

    def _candidate_priors(self):
        """The priors to mix, as the Swift trainer (BuiltPrior.all): [(kind, table, the
        hyperparameters chosen with it)]; `auto` within the dense limit gives EASE and kNN,
        of which mixing keeps the better on validation. A model that came with a prior
        keeps it."""
        h, n = self.hyperparameters, self.dataset.n_items
        if h.item_item_prior == "none":
            return []
        if self._prior is not None:
            return [("knn" if self._prior.is_sparse else "ease", self._prior, {})]
        dense_fits = n <= Hyperparameters.ITEM_ITEM_MAX_ITEMS
        kinds = {"auto": ["ease", "knn"] if dense_fits else ["knn"], "ease": ["ease"], "knn": ["knn"]}[h.item_item_prior]
        if kinds == ["ease"] and not dense_fits:
            self.notes.append(f"EASE needs {n}^2 floats: the prior is kNN instead "
                              f"(above {Hyperparameters.ITEM_ITEM_MAX_ITEMS} items)")
            kinds = ["knn"]
        priors = []
        for kind in kinds:
            if kind == "ease" and h.choose_ease_lambda:
                prior, lam = self._chosen_ease()
                priors.append(("ease", prior, {"ease_lambda": lam}))
            elif kind == "ease":
                priors.append(("ease", signals.ease(self.dataset.train, n, h.ease_lambda), {}))
            elif h.choose_knn_popularity_exponent:
                prior, beta = self._chosen_knn()
                priors.append(("knn", prior, {"knn_popularity_exponent": beta}))
            else:
                priors.append(("knn", signals.knn(self.dataset.train, n, h.item_item_neighbours,
                                                  h.knn_popularity_exponent), {}))
        return priors

    @torch.inference_mode()
    def _mix_item_item(self, cnet_validation):
        """score = w / sd_cnet xhat0 + (1 - w) / sd_prior x_in B, the standard deviations over
        the validation users' score matrices, w fixed or chosen on validation Recall@20
        among 0, 0.05, ..., 1 (the first best); with two priors, the better mixture (the
        first on a tie)."""
        h, model = self.hyperparameters, self.model
        priors = self._candidate_priors()
        valid = self.dataset.valid.to(self.device)
        users = torch.nonzero(valid.lengths > 0).reshape(-1)
        if priors and users.numel() == 0:
            self.notes.append("item-item prior skipped: no validation interactions to choose its weight on")
        if not priors or users.numel() == 0:
            self.hyperparameters = model.hyperparameters = h.replace(item_item_prior="none", ensemble_weight=None)
            return cnet_validation
        history, held = self._train.select(users), valid.select(users)
        cnet = torch.cat([model.scores(self._train.select(chunk), chunk) for chunk in users.split(512)])
        sd_cnet = max(float(cnet.double().std(unbiased=False)), 1e-12)
        candidates = [h.ensemble_weight] if h.ensemble_weight is not None else [i / 20 for i in range(21)]
        best = None
        for kind, prior, chosen in priors:
            prior = prior.to(self.device)
            prior_scores = _prior_scores(history, prior)
            sd_prior = max(float(prior_scores.double().std(unbiased=False)), 1e-12)
            mixture = (1.0, Metrics(recall20=-1.0))
            for w in candidates:
                a, b = np.float32(w / sd_cnet), np.float32((1 - w) / sd_prior)
                metrics = _metrics(_ranking_sums(cnet * float(a) + prior_scores * float(b), history, held))
                if metrics.recall20 > mixture[1].recall20:
                    mixture = (w, metrics)
            if len(priors) > 1:
                self.notes.append(f"{kind} {chosen} mixed with C-Net weight {mixture[0]}: "
                                  f"validation recall@20 {mixture[1].recall20:.4f}")
            if best is None or mixture[1].recall20 > best["metrics"].recall20:
                best = dict(kind=kind, prior=prior, chosen=chosen, w=mixture[0], sd_prior=sd_prior, metrics=mixture[1])
        w = best["w"]
        if best["prior"].is_sparse:
            model.item_item, model.item_item_sparse = None, best["prior"]
        else:
            model.item_item, model.item_item_sparse = best["prior"], None
        model.score_scale_cnet.fill_(float(np.float32(w / sd_cnet)))
        model.score_scale_item_item.fill_(float(np.float32((1 - w) / best["sd_prior"])))
        self.hyperparameters = model.hyperparameters = h.replace(item_item_prior=best["kind"], ensemble_weight=w,
                                                                 **best["chosen"])
        return best["metrics"]

    def _chosen_ease(self):
        """EASE with lambda chosen on validation Recall@20 of EASE alone, as the Swift
        trainer (EASE.chosen): the 1-2-5 series from 0.2 to 20 times ease_lambda, extended
        while the best is at an end (up to 10^4 times either way); the Gram matrix once."""
        h, n = self.hyperparameters, self.dataset.n_items
        train = self.dataset.train
        gram = signals.gram(train, n)
        users = torch.nonzero(self.dataset.valid.lengths > 0).reshape(-1)
        if users.numel() == 0:
            return signals.ease(train, n, h.ease_lambda, gram_matrix=gram), h.ease_lambda
        history, held = train.select(users), self.dataset.valid.select(users)

        def tried(k):
            b = signals.ease(train, n, signals.ease_candidate(k, h.ease_lambda), gram_matrix=gram)
            scores = _prior_scores(history, b)
            return b, k, _metrics(_ranking_sums(scores, history, held)).recall20

        lowest, highest = -2, 4
        best = tried(0)
        for k in range(lowest, highest + 1):
            if k != 0 and (candidate := tried(k))[2] > best[2]:
                best = candidate
        while best[1] == highest and highest < 12:
            highest += 1
            if (candidate := tried(highest))[2] > best[2]:
                best = candidate
        while best[1] == lowest and lowest > -12:
            lowest -= 1
            if (candidate := tried(lowest))[2] > best[2]:
                best = candidate
        return best[0], signals.ease_candidate(best[1], h.ease_lambda)

    def _chosen_knn(self):
        """The kNN prior with beta chosen on validation Recall@20 of the prior alone, as the
        Swift trainer (ItemKNN.chosen): the first best of signals.KNN_POPULARITY_EXPONENTS."""
        h, n = self.hyperparameters, self.dataset.n_items
        train = self.dataset.train
        users = torch.nonzero(self.dataset.valid.lengths > 0).reshape(-1)
        if users.numel() == 0:
            return signals.knn(train, n, h.item_item_neighbours, h.knn_popularity_exponent), h.knn_popularity_exponent
        stride = -(-users.numel() // signals.KNN_CHOICE_USERS)  # every s-th user, as ItemKNN.chosen
        users = users[::stride]
        history, held = train.select(users), self.dataset.valid.select(users)
        best = (None, h.knn_popularity_exponent, -1.0)
        for beta in signals.KNN_POPULARITY_EXPONENTS:
            prior = signals.knn(train, n, h.item_item_neighbours, beta)
            recall = _metrics(_ranking_sums(_prior_scores(history, prior), history, held)).recall20
            if recall > best[2]:
                best = (prior, beta, recall)
        return best[0], best[1]

    # ---- checkpoints

    def save_checkpoint(self, path):
        """Everything needed to resume: weights, Adam's state, the sampler's records, the
        epoch and the best epoch so far (written atomically)."""
        state = {
            "format": "ld4mrec-torch-checkpoint", "epoch": self.epoch,
            "hyperparameters": dataclasses.asdict(self.hyperparameters),
            "parameters": self._parameters(), "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.records, "best_epoch": self._best[0],
            "best_metrics": dataclasses.asdict(self._best[1]), "best_parameters": self._best[2],
            "reports": [dataclasses.asdict(r) for r in self.reports],
        }
        temporary = f"{path}.tmp-{os.getpid()}"
        torch.save(state, temporary)
        os.replace(temporary, path)

    def load_checkpoint(self, path):
        """Resumes from a checkpoint of a run with the same dataset and hyperparameters
        (max_epochs and patience may differ): ``fit()`` then continues with the next epoch,
        drawing what the uninterrupted run would have drawn."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state.get("format") != "ld4mrec-torch-checkpoint":
            raise ValueError(f"'{path}' is not an ld4mrec.torch checkpoint")
        mine = dataclasses.asdict(self.hyperparameters)
        different = [name for name, value in state["hyperparameters"].items()
                     if name not in ("max_epochs", "patience") and mine.get(name) != value]
        if different:
            raise ValueError(f"'{path}' was written with other hyperparameters: {', '.join(different)}")
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                p.copy_(state["parameters"][name])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.records = [list(r) for r in state["sampler"]]
        self.epoch = state["epoch"]
        self._best = (state["best_epoch"], Metrics(**state["best_metrics"]), state["best_parameters"])
        self.reports = [EpochReport(**{**r, "validation": Metrics(**r["validation"])}) for r in state["reports"]]
        self.model.refresh_z_in_default()
