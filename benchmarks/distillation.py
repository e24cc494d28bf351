"""Distilling a teacher model's ranking into one C-Net: the prototype behind BENCHMARKS.md
("Architecture and training options, one at a time"), on the PyTorch trainer.

    .venv/bin/python benchmarks/distillation.py --data ../shared/datasets/tiktok --out student.h5 \
        --seed 1 --teacher tiktok-c3.h5 [--weight 1] [--temperature 1]
    .venv/bin/python benchmarks/distillation.py --data ../shared/datasets/tiktok --out plain.h5 --seed 1

The student is ld4mrec.torch's default training, except that each user's multinomial
target (the soft history) gains weight * |history| * q, where q is the softmax over the
items outside the history of the teacher's scores (its serving pass, prior included),
standardised per user and divided by the temperature. Without --teacher it is the plain
default, the baseline of the same run. The student file is scored with `ld4mrec evaluate`.
Needs PyTorch (make venv TORCH=1).
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Bindings" / "python"))
import ld4mrec.torch as lt  # noqa: E402
from ld4mrec.torch.model import Hyperparameters  # noqa: E402
from ld4mrec.torch.trainer import Trainer  # noqa: E402


def teacher_distributions(teacher, data, temperature, chunk=512):
    """q (users x items): per user, the softmax of the teacher's standardised scores over
    the items outside the training history (0 on the history)."""
    if list(teacher.user_ids) != list(data.user_ids) or list(teacher.item_ids) != list(data.item_ids):
        raise SystemExit("the teacher was not trained on this dataset (its user or item ids differ)")
    q = torch.zeros(data.n_users, data.n_items)
    for start in range(0, data.n_users, chunk):
        users = torch.arange(start, min(start + chunk, data.n_users))
        history = data.train.select(users)
        scores = teacher.scores(history, users).clone()
        outside = torch.ones_like(scores, dtype=torch.bool)
        outside[history.row_of_item(), history.items] = False
        count = outside.sum(1, keepdim=True)
        mean = torch.where(outside, scores, 0).sum(1, keepdim=True) / count
        spread = (torch.where(outside, scores - mean, 0) ** 2).sum(1, keepdim=True).div(count).sqrt()
        z = ((scores - mean) / spread.clamp(min=1e-12) / temperature).masked_fill(~outside, float("-inf"))
        q[start:start + len(users)] = torch.softmax(z, dim=1)
    return q


class DistillingTrainer(Trainer):
    """The trainer with the teacher's term added to each minibatch's target."""

    def __init__(self, data, h, q, weight):
        super().__init__(data, h)
        self.q, self.weight = q, weight

    def batch(self, global_users, batch_index):
        b = super().batch(global_users, batch_index)
        lengths = self._train.select(b.users).lengths.float()
        return dataclasses.replace(b, target=b.target + self.weight * lengths[:, None] * self.q[b.users])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--teacher", help="model file trained on --data (without it: the plain default)")
    p.add_argument("--weight", type=float, default=1.0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=Hyperparameters().max_epochs, help="at most this many")
    a = p.parse_args()
    data = lt.Dataset.from_mmrec(a.data)
    h = Hyperparameters(seed=a.seed, max_epochs=a.epochs)
    start = time.monotonic()
    if a.teacher:
        q = teacher_distributions(lt.load(a.teacher), data, a.temperature)
        trainer = DistillingTrainer(data, h, q, a.weight)
    else:
        trainer = Trainer(data, h)

    def progress(r):
        print(f"epoch {r.epoch}  loss {r.loss:.4f}  val recall@20 {r.validation.recall20:.4f}  "
              f"ndcg@20 {r.validation.ndcg20:.4f}  {r.seconds:.1f} s  best epoch {r.best_epoch}", flush=True)

    result = trainer.fit(progress)
    print(f"best epoch {result.best_epoch}: C-Net val recall@20 {result.best_validation.recall20:.4f}; "
          f"with the prior (C-Net weight {result.model.hyperparameters.ensemble_weight}) "
          f"{result.final_validation.recall20:.4f}; {time.monotonic() - start:.0f} s")
    lt.export(result.model, a.out)


if __name__ == "__main__":
    main()
