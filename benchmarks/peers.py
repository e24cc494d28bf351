"""ld4mrec against its peers, in one run on this machine: PyTorch running the same model
(ld4mrec.torch) and ONNX Runtime serving its ONNX export, with the bounds of the machine
measured alongside (ld4mrec-benchmark). Prints markdown tables with the ratios and writes
the raw figures as JSON.

    python3 benchmarks/peers.py --data ../shared/datasets/tiktok [--threads 2] [--repeats 200]
        [--runs 3] [--skip-training] [--model tiktok.h5] [--json results.json]

The serving rows use a synthetic model of TikTok's shape with the dense prior (the
heavier prior, so the harder case for ld4mrec), or with --model a model file such as
the default training's TikTok model (`ld4mrec train --data ../shared/datasets/tiktok`,
which keeps the kNN prior there); the batch is the file's first 400 users either way.

Every figure is the median of its repeats; each whole measurement is repeated --runs
times and the median run is reported (the machine is shared: run it when it is quiet).
Needs `make build` (dist/bin/ld4mrec) and `swift build -c release --product
ld4mrec-benchmark`; torch and onnxruntime come from .venv (make venv TORCH=1, then
.venv/bin/pip install onnx onnxruntime).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Bindings" / "python"))

CLI = ROOT / "dist" / "bin" / "ld4mrec"
BENCHMARK = ROOT / ".build" / "release" / "ld4mrec-benchmark"
K = 20
BATCH = 400


def median_time(body, repeats, warmup=3):
    for _ in range(warmup):
        body()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthesize(path):
    """A model of TikTok's shape and MODEL.md's architecture, with the item-item prior."""
    subprocess.run([str(CLI), "synthesize", "--out", str(path), "--items", "6710", "--users", "9308",
                    "--hidden", "1000", "--svd-rank", "100", "--film-hidden", "128",
                    "--modalities", "image:128,audio:128", "--seed", "11"], check=True, stdout=subprocess.DEVNULL)


def library(model_path, data, threads, repeats, skip_training):
    args = [str(BENCHMARK), "--model", str(model_path), "--threads", str(threads), "--repeats", str(repeats)]
    if not skip_training:
        args += ["--train", str(data), "--epochs", "3"]
    result = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def torch_serving(model_path, threads, repeats):
    import numpy as np
    import torch

    import ld4mrec.torch as lt

    torch.set_num_threads(threads)
    model = lt.load(model_path)
    model.eval()
    histories = model.training_histories
    users = list(range(200))
    candidates = torch.arange(0, 300, dtype=torch.int64)
    state = {"next": 0}

    def one():
        u = users[state["next"] % len(users)]
        state["next"] += 1
        return histories.select([u]), torch.tensor([u])

    def single():
        h, u = one()
        model.recommend(h, u, k=K)

    def rerank():
        h, u = one()
        model.score_candidates(h, candidates, u)

    batch_rows = torch.arange(BATCH)
    batch_histories = histories.select(batch_rows)

    def batch():
        model.recommend(batch_histories, batch_rows, k=K)

    figures = {"single_user_top20_s": median_time(single, repeats),
               "candidates300_s": median_time(rerank, repeats),
               "batch400_top20_s": median_time(batch, max(5, repeats // 20))}
    figures["batch400_users_per_s"] = BATCH / figures["batch400_top20_s"]

    # ONNX Runtime on the exported graph; the history's gathers run outside it (torch).
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as folder:
        onnx_path = os.path.join(folder, "model.onnx")
        lt.export_onnx(model, onnx_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])

        def ort_top(h, u, k):
            with torch.inference_mode():
                inputs = lt.serving_inputs(model, h, u)
            scores = session.run(["scores"], inputs)[0]
            # Exclude the history, then the k best per row.
            rows = np.repeat(np.arange(len(h)), np.diff(h.offsets.numpy()))
            scores[rows, h.items.numpy()] = -np.inf
            top = np.argpartition(-scores, k, axis=1)[:, :k]
            order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
            return np.take_along_axis(top, order, axis=1)

        def ort_single():
            h, u = one()
            ort_top(h, u, K)

        with torch.inference_mode():
            prepared = lt.serving_inputs(model, histories.select([0]), torch.tensor([0]))

        def ort_graph_only():
            session.run(["scores"], prepared)

        def ort_batch():
            ort_top(batch_histories, batch_rows, K)

        onnx = {"single_user_top20_s": median_time(ort_single, repeats),
                "graph_only_single_s": median_time(ort_graph_only, repeats),
                "batch400_top20_s": median_time(ort_batch, max(5, repeats // 20))}
        onnx["batch400_users_per_s"] = BATCH / onnx["batch400_top20_s"]
        figures["interleaved_batch400_users_per_s"] = interleaved_batches(model_path, threads, repeats,
                                                                          {"torch": batch, "onnxruntime": ort_batch})
    return figures, onnx


def interleaved_batches(model_path, threads, repeats, peers):
    """Batches of 400 from ld4mrec (through its Python binding), PyTorch and ONNX Runtime
    in turn, one batch each per round: a busy spell of the shared host falls on all three
    alike, where timing one after the other lets it fall on one. Each waits 50 ms first,
    so that the threads the previous one leaves spinning (OpenMP's, ONNX Runtime's, the
    library's pool) have gone to sleep."""
    import ld4mrec

    with ld4mrec.Model(model_path) as model, ld4mrec.Store.from_model(model) as store:
        users = store.user_ids()[:BATCH]
        contenders = {"ld4mrec": lambda: store.recommend_users(users, k=K, n_threads=threads), **peers}
        times = {name: [] for name in contenders}
        for body in contenders.values():
            body()
        for _ in range(max(10, repeats // 10)):
            for name, body in contenders.items():
                time.sleep(0.05)
                start = time.perf_counter()
                body()
                times[name].append(time.perf_counter() - start)
    return {name: BATCH / statistics.median(values) for name, values in times.items()}


def torch_training(data, threads, epochs=3):
    import torch

    import ld4mrec.torch as lt

    torch.set_num_threads(threads)
    trainer = lt.Trainer(lt.Dataset.from_mmrec(str(data)), lt.Hyperparameters(item_item_prior="none"))
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        trainer.train_epoch()
        trainer.validate(split="valid")
        seconds.append(time.perf_counter() - start)
    return {"epochs": seconds, "epoch_median_s": statistics.median(seconds)}


def table(rows, header):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(seconds):
    return f"{seconds * 1e3:.2f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="TikTok in the MMRec layout (training epochs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--model", help="serve this model file instead of the synthetic one")
    parser.add_argument("--json", help="write every figure here")
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as folder:
        if args.model:
            model_path = Path(args.model).resolve()
        else:
            model_path = Path(folder) / "tiktok-shape.h5"
            synthesize(model_path)
        for run in range(args.runs):
            print(f"run {run + 1} of {args.runs} ...", file=sys.stderr, flush=True)
            ours = library(model_path, args.data, args.threads, args.repeats, args.skip_training)
            torch_figures, onnx_figures = torch_serving(model_path, args.threads, args.repeats)
            figures = {"ld4mrec": ours, "torch": torch_figures, "onnxruntime": onnx_figures}
            if not args.skip_training:
                figures["torch"]["training"] = torch_training(args.data, args.threads)
            runs.append(figures)

    def pick(path):
        """The median over runs of one figure."""
        values = []
        for figures in runs:
            value = figures
            for key in path:
                value = value[key]
            values.append(value)
        return statistics.median(values)

    fp32, bf16 = ("ld4mrec", "serving", "float32"), ("ld4mrec", "serving", "bfloat16")
    plain = ("ld4mrec", "serving", "float32_unscreened")
    ours_single, ours_bf16 = pick(fp32 + ("single_user_top20_s",)), pick(bf16 + ("single_user_top20_s",))
    torch_single, onnx_single = pick(("torch", "single_user_top20_s")), pick(("onnxruntime", "single_user_top20_s"))
    read_bound = pick(fp32 + ("read_weights_once_s",))
    ours_batch, bf16_batch = pick(fp32 + ("batch400_users_per_s",)), pick(bf16 + ("batch400_users_per_s",))
    torch_batch, onnx_batch = pick(("torch", "batch400_users_per_s")), pick(("onnxruntime", "batch400_users_per_s"))
    best_peer_batch = max(torch_batch, onnx_batch)
    rows = [
        ["one user, full scores + top-20", ms(ours_single), ms(torch_single), ms(onnx_single),
         f"{torch_single / ours_single:.2f}x", f"{onnx_single / ours_single:.2f}x",
         f"read fp32 weights once {ms(read_bound)} ({ours_single / read_bound:.2f}x)"],
        ["same, float32 without the bf16 screen", ms(pick(plain + ("single_user_top20_s",))), "", "",
         f"{torch_single / pick(plain + ('single_user_top20_s',)):.2f}x",
         f"{onnx_single / pick(plain + ('single_user_top20_s',)):.2f}x",
         f"{pick(plain + ('single_user_top20_s',)) / read_bound:.2f}x the fp32 read"],
        ["same, bf16 tables", ms(ours_bf16), "", "", f"{torch_single / ours_bf16:.2f}x", f"{onnx_single / ours_bf16:.2f}x",
         f"{ours_bf16 / read_bound:.2f}x the fp32 read"],
        ["score 300 candidates, one user", ms(pick(fp32 + ("candidates300_s",))), ms(pick(("torch", "candidates300_s"))), "",
         f"{pick(('torch', 'candidates300_s')) / pick(fp32 + ('candidates300_s',)):.2f}x", "", ""],
        ["batch of 400 users, top-20 each", f"{ours_batch:,.0f} users/s", f"{torch_batch:,.0f} users/s",
         f"{onnx_batch:,.0f} users/s", f"{ours_batch / torch_batch:.2f}x", f"{ours_batch / onnx_batch:.2f}x",
         f"{ours_batch / best_peer_batch:.2f}x the faster peer"],
        ["same, float32 without the bf16 screen", f"{pick(plain + ('batch400_users_per_s',)):,.0f} users/s", "", "",
         f"{pick(plain + ('batch400_users_per_s',)) / torch_batch:.2f}x",
         f"{pick(plain + ('batch400_users_per_s',)) / onnx_batch:.2f}x", ""],
        ["same, bf16 tables", f"{bf16_batch:,.0f} users/s", "", "", f"{bf16_batch / torch_batch:.2f}x",
         f"{bf16_batch / onnx_batch:.2f}x", ""],
    ]
    if not args.skip_training:
        ours_epoch = pick(("ld4mrec", "training", "epoch_median_s"))
        torch_epoch = pick(("torch", "training", "epoch_median_s"))
        bound = pick(("ld4mrec", "training", "gemm_bound_epoch_s"))
        rows.insert(0, ["training epoch with its validation pass", f"{ours_epoch:.2f} s", f"{torch_epoch:.2f} s", "",
                        f"{ours_epoch / torch_epoch:.2f}x the time", "",
                        f"5-GEMM bound {bound:.2f} s ({ours_epoch / bound:.2f}x)"])
    interleaved = {name: pick(("torch", "interleaved_batch400_users_per_s", name))
                   for name in ("ld4mrec", "torch", "onnxruntime")}
    rows.append(["batch of 400, the three in turn in one process", f"{interleaved['ld4mrec']:,.0f} users/s",
                 f"{interleaved['torch']:,.0f} users/s", f"{interleaved['onnxruntime']:,.0f} users/s",
                 f"{interleaved['ld4mrec'] / interleaved['torch']:.2f}x",
                 f"{interleaved['ld4mrec'] / interleaved['onnxruntime']:.2f}x",
                 f"{interleaved['ld4mrec'] / max(interleaved['torch'], interleaved['onnxruntime']):.2f}x the faster peer"])
    concurrency = pick(fp32 + ("concurrency", "ratio_to_cores_x_one"))
    print(f"model {args.model or 'synthetic, TikTok shape, dense prior'}; threads {args.threads}, OpenBLAS {runs[0]['ld4mrec']['openblas_kernels']} kernels, "
          f"GEMM {pick(('ld4mrec', 'gemm_gflops')):.0f} GFLOP/s; median of {args.runs} runs")
    print(table(rows, ["measurement", "ld4mrec", "PyTorch", "ONNX Runtime", "vs PyTorch", "vs ONNX Runtime", "bound"]))
    print(f"\n8 threads calling recommend (1 thread per call): {concurrency:.2f} x (cores x one caller's throughput)")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
