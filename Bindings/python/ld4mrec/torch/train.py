"""Command line: train LD4MRec in PyTorch on an MMRec folder and write model file v1.

    python -m ld4mrec.torch.train --data DIR --out model.h5 [options]
    torchrun --nproc_per_node 2 -m ld4mrec.torch.train --data DIR --out model.h5 [options]

Under torchrun (WORLD_SIZE > 1) it initialises torch.distributed (gloo on CPU, nccl on GPU)
and trains with DistributedDataParallel (see ld4mrec.torch.trainer); rank 0 prints, logs,
writes the checkpoint and the model file.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist

from .data import Dataset
from .fileformat import export, load
from .model import Hyperparameters
from .trainer import Trainer


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m ld4mrec.torch.train",
        description="Train LD4MRec in PyTorch on an MMRec dataset folder and write model file v1. "
                    "Launch with torchrun for distributed training (DistributedDataParallel; "
                    "gloo on CPU, nccl on GPU). Defaults are docs/MODEL.md's.")
    p.add_argument("--data", required=True, help="dataset folder (<name>.inter and <modality>_feat.npy)")
    p.add_argument("--out", required=True, help="where rank 0 writes the model file")
    p.add_argument("--modalities", help="comma-separated, in order ('none' for none; default: every "
                                        "*_feat.npy alphabetically)")
    p.add_argument("--init", help="fine-tune this model file (trained on --data) instead of a new model; "
                                  "its architecture and frozen signals are kept")
    d = Hyperparameters()
    architecture = p.add_argument_group("architecture (ignored with --init, which keeps the model's)")
    architecture.add_argument("--hidden", type=int, default=d.hidden_size, help="hidden size d")
    architecture.add_argument("--svd-rank", type=int, default=d.svd_rank)
    architecture.add_argument("--step-embedding", type=int, default=d.step_embedding_size)
    architecture.add_argument("--blocks", type=int, default=d.n_blocks)
    architecture.add_argument("--film-hidden", type=int, default=d.film_hidden_size)
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=d.max_epochs)
    t.add_argument("--patience", type=int, default=d.patience)
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--svd-oversamples", type=int, default=d.svd_oversamples)
    t.add_argument("--svd-power-iterations", type=int, default=d.svd_power_iterations)
    t.add_argument("--steps", type=int, default=d.n_steps)
    t.add_argument("--noise-scale", type=float, default=d.noise_scale)
    t.add_argument("--noise-min", type=float, default=d.noise_min)
    t.add_argument("--soft-target-probability", type=float, default=d.soft_target_probability)
    t.add_argument("--soft-target-gamma", type=float, default=d.soft_target_gamma)
    t.add_argument("--step-sampler", choices=("importance", "uniform"), default=d.step_sampler)
    t.add_argument("--loss", choices=("mse", "multinomial"), default=d.loss)
    t.add_argument("--lr", type=float, default=d.learning_rate)
    t.add_argument("--batch-size", type=int, default=d.batch_size, help="users per global minibatch")
    t.add_argument("--input-dropout", type=float, default=d.input_dropout)
    t.add_argument("--hidden-dropout", type=float, default=d.hidden_dropout,
                   help="dropout on the C-Net's last hidden layer in training")
    t.add_argument("--conditions-from-dropped-history", action=argparse.BooleanOptionalAction,
                   default=d.conditions_from_dropped_history)
    t.add_argument("--weight-decay", type=float, default=d.weight_decay)
    t.add_argument("--feature-standardization", choices=("training-items", "none"), default=d.feature_standardization)
    t.add_argument("--item-item", choices=("auto", "ease", "knn", "none"), default=d.item_item_prior,
                   help="the prior: dense EASE, sparse kNN, or auto (both up to 16,384 items, the better "
                        "mixture on validation kept; kNN above)")
    t.add_argument("--item-item-neighbours", type=int, default=d.item_item_neighbours,
                   help="neighbours per item of the kNN prior")
    t.add_argument("--knn-popularity-exponent", type=float, default=d.knn_popularity_exponent,
                   help="the kNN prior's beta, or its value when not chosen on validation")
    t.add_argument("--choose-knn-popularity-exponent", action=argparse.BooleanOptionalAction,
                   default=d.choose_knn_popularity_exponent,
                   help="choose the kNN prior's beta on validation among 0, 0.1, ..., 1 (default: yes)")
    t.add_argument("--ease-lambda", type=float, default=d.ease_lambda,
                   help="EASE's lambda, or the centre of its search on validation")
    t.add_argument("--choose-ease-lambda", action=argparse.BooleanOptionalAction, default=d.choose_ease_lambda,
                   help="choose EASE's lambda on validation (default: yes)")
    t.add_argument("--ensemble-weight", type=float, help="C-Net weight of the mixture (default: chosen on validation)")
    t.add_argument("--teacher", help="a model file trained on --data whose ranking the model learns (distillation, "
                                     "docs/MODEL.md), e.g. one of `ld4mrec train --cnets 3`")
    t.add_argument("--teacher-scores", help="instead of --teacher, any recommender's scores whose ranking the model "
                                            "learns: a .npy file, users x items of --data (row u: its user u, "
                                            "column i: its item i)")
    t.add_argument("--distillation-weight", type=float,
                   help="weight of the teacher's ranking in each target, times the history's length (default: 2 with "
                        "--teacher or --teacher-scores, else 0)")
    t.add_argument("--distillation-temperature", type=float, default=d.distillation_temperature,
                   help="temperature of the teacher's ranking")
    r = p.add_argument_group("running")
    r.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda if available; with torchrun, "
                                    "each rank takes cuda:LOCAL_RANK)")
    r.add_argument("--backend", help="torch.distributed backend (default: nccl on GPU, gloo on CPU)")
    r.add_argument("--threads", type=int, help="torch.set_num_threads per process")
    # Not --log: torchrun would take it for an abbreviation of its own --log-dir.
    r.add_argument("--log-file", help="append one JSON object per epoch to this file (rank 0)")
    r.add_argument("--checkpoint", help="rank 0 rewrites this training checkpoint after every epoch")
    r.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    return p


def _hyperparameters(args, base):
    return base.replace(
        n_steps=args.steps, noise_scale=args.noise_scale, noise_min=args.noise_min,
        soft_target_probability=args.soft_target_probability, soft_target_gamma=args.soft_target_gamma,
        step_sampler=args.step_sampler, loss=args.loss, learning_rate=args.lr, batch_size=args.batch_size,
        max_epochs=args.epochs, patience=args.patience, input_dropout=args.input_dropout, hidden_dropout=args.hidden_dropout,
        conditions_from_dropped_history=args.conditions_from_dropped_history, weight_decay=args.weight_decay,
        svd_oversamples=args.svd_oversamples, svd_power_iterations=args.svd_power_iterations,
        feature_standardization=args.feature_standardization, seed=args.seed, item_item_prior=args.item_item,
        ease_lambda=args.ease_lambda, choose_ease_lambda=args.choose_ease_lambda, ensemble_weight=args.ensemble_weight,
        item_item_neighbours=args.item_item_neighbours, knn_popularity_exponent=args.knn_popularity_exponent,
        choose_knn_popularity_exponent=args.choose_knn_popularity_exponent,
        distillation_weight=(args.distillation_weight if args.distillation_weight is not None
                             else base.DISTILLATION_WEIGHT if args.teacher or args.teacher_scores else 0.0),
        distillation_temperature=args.distillation_temperature)


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.resume and not args.checkpoint:
        _parser().error("--resume needs --checkpoint")
    if args.teacher and args.teacher_scores:
        _parser().error("--teacher and --teacher-scores name two teachers: give one")
    if args.threads:
        torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and world > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    if world > 1:
        dist.init_process_group(backend=args.backend or ("nccl" if device.startswith("cuda") else "gloo"))
    rank = dist.get_rank() if world > 1 else 0
    say = print if rank == 0 else (lambda *a, **k: None)
    log = None
    try:
        names = None if args.modalities is None else [] if args.modalities == "none" else args.modalities.split(",")
        data = Dataset.from_mmrec(args.data, names)
        say(f"dataset {data.name}: {data.n_users} users, {data.n_items} items, {data.train.items.numel()} train / "
            f"{data.valid.items.numel()} valid / {data.test.items.numel()} test, modalities "
            f"{[f'{n} ({t.shape[1]})' for n, t in data.modalities]}; {world} process(es) on {device}, "
            f"{torch.get_num_threads()} thread(s) each", flush=True)
        if args.init:
            model = load(args.init)
            h = _hyperparameters(args, model.hyperparameters)
        else:
            model = None
            h = _hyperparameters(args, Hyperparameters(
                hidden_size=args.hidden, svd_rank=args.svd_rank, step_embedding_size=args.step_embedding,
                n_blocks=args.blocks, film_hidden_size=args.film_hidden))
        start = time.monotonic()
        teacher = load(args.teacher) if args.teacher else np.load(args.teacher_scores) if args.teacher_scores else None
        trainer = Trainer(data, h, model=model, device=device, checkpoint=args.checkpoint, teacher=teacher)
        setup = time.monotonic() - start
        if args.resume:
            trainer.load_checkpoint(args.checkpoint)
            say(f"resumed from {args.checkpoint} after epoch {trainer.epoch}")
        log = open(args.log_file, "a") if args.log_file and rank == 0 else None

        def progress(report):
            v = report.validation
            say(f"epoch {report.epoch}  loss {report.loss:.6f}  val recall@20 {v.recall20:.4f}  "
                f"ndcg@20 {v.ndcg20:.4f}  {report.seconds:.1f} s  best epoch {report.best_epoch}", flush=True)
            if log:
                log.write(json.dumps({"epoch": report.epoch, "loss": report.loss, "recall@10": v.recall10,
                                      "recall@20": v.recall20, "ndcg@10": v.ndcg10, "ndcg@20": v.ndcg20,
                                      "seconds": report.seconds, "best": report.is_best}) + "\n")
                log.flush()

        result = trainer.fit(progress)
        b = result.best_validation
        say(f"best epoch {result.best_epoch}: val recall@20 {b.recall20:.4f} ndcg@20 {b.ndcg20:.4f}; "
            f"{len(result.epochs)} epochs in {time.monotonic() - start - setup:.1f} s (+{setup:.1f} s setup)")
        for note in result.notes:
            say(note)
        if rank == 0:
            if result.model.item_item is not None:
                f = result.final_validation
                say(f"with the item-item prior (C-Net weight {result.model.hyperparameters.ensemble_weight:.2f}): "
                    f"val recall@20 {f.recall20:.4f} ndcg@20 {f.ndcg20:.4f}")
            export(result.model, args.out)
            say(f"wrote {args.out}")
        if world > 1:
            dist.barrier()  # the file exists when any rank returns
    finally:
        if log:
            log.close()
        if world > 1:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
