"""LD4MRec in PyTorch: train beyond one machine, export to and import from model file v1.

    import ld4mrec.torch as lt

    data = lt.Dataset.from_mmrec("path/to/tiktok")
    result = lt.Trainer(data, lt.Hyperparameters(hidden_size=200)).fit()
    lt.export(result.model, "model.h5")            # served by libld4mrec as any model file

    model = lt.load("model.h5")                     # any model file v1, e.g. from `ld4mrec train`
    rows, scores = model.recommend(lt.Histories.from_lists([[3, 17]], model.n_items), k=20)

Distributed training: ``torchrun --nproc_per_node 2 -m ld4mrec.torch.train --data DIR --out
model.h5`` (see ``python -m ld4mrec.torch.train --help``).

An optional extra: it needs PyTorch and h5py (``pip install ld4mrec[torch]``); the rest of
the ld4mrec package does not.
"""

try:
    import h5py  # noqa: F401  (absolute imports: these are the real packages, not ld4mrec.torch)
    import torch  # noqa: F401
except ImportError as error:
    raise ImportError(f"ld4mrec.torch needs PyTorch and h5py ({error}): pip install ld4mrec[torch]") from error

from .data import Dataset
from .fileformat import export, load
from .model import Histories, Hyperparameters, LD4MRec
from .onnx_export import export_onnx, serving_inputs
from .trainer import EpochReport, Metrics, Trainer, TrainingResult, evaluate

__all__ = [
    "Dataset", "Histories", "Hyperparameters", "LD4MRec",
    "Trainer", "TrainingResult", "EpochReport", "Metrics", "evaluate",
    "export", "load", "export_onnx", "serving_inputs",
]
