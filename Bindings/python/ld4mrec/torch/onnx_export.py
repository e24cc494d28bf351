"""ONNX export of the serving graph: the C-Net from its gathered inputs to full scores.

The history gathers stay outside the graph, where a server does them with its own data
structures (they are sums of |history| table rows): the graph's inputs are

- ``history_sum`` (B, d): sum_{i in H} W_in[:, i]  (the input layer without b_in)
- ``z`` (B, d_f): z_in[u], or z_in_default
- ``c_u`` (B, 2k) and ``p_0`` ... ``p_{M-1}`` (B, d_m): the condition signals
- ``item_item_sum`` (B, n_items), only for a model with an item-item prior:
  sum_{j in H} B[j, :]

and its output ``scores`` (B, n_items) is what ``LD4MRec.scores`` returns. ``serving_inputs``
computes the inputs for a batch of histories. Needs only torch (the TorchScript-based
exporter); onnx / onnxruntime are needed to run the result, not to write it."""

import warnings

import torch
from torch import nn

from .model import Histories

__all__ = ["export_onnx", "serving_inputs"]


class _ServingGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.with_prior = model.has_item_item_prior and float(model.score_scale_item_item) != 0

    def forward(self, history_sum, z, c_u, *rest):
        m = self.model
        preferences = list(rest[:m.n_modalities])
        xhat0 = m.output(m.hidden_states(history_sum + m.input_bias, z, c_u, preferences))
        if self.with_prior:
            return xhat0 * m.score_scale_cnet + rest[m.n_modalities] * m.score_scale_item_item
        return xhat0 * m.score_scale_cnet


def input_names(model):
    names = ["history_sum", "z", "c_u"] + [f"p_{m}" for m in range(model.n_modalities)]
    return names + (["item_item_sum"] if _ServingGraph(model).with_prior else [])


@torch.inference_mode()
def serving_inputs(model, histories, users=None):
    """The graph's inputs for a batch (Histories, user rows or None): a dict name -> float32
    NumPy array, ready for ``onnxruntime.InferenceSession.run``."""
    c_u, preferences = model.condition_signals(histories)
    tensors = [model.history_sum(histories), model.user_embedding(users, len(histories)), c_u, *preferences]
    if _ServingGraph(model).with_prior:
        tensors.append(model.item_item_sum(histories))
    return {name: t.detach().cpu().contiguous().numpy() for name, t in zip(input_names(model), tensors)}


def export_onnx(model, path, opset_version=17):
    """Writes the serving graph of ``model`` to ``path`` (ONNX, dynamic batch size)."""
    graph = _ServingGraph(model)  # the model has no train-only layers: its mode does not matter
    device = model.item_ids.device
    one_empty_history = Histories(torch.zeros(0, dtype=torch.int64, device=device),
                                  torch.zeros(2, dtype=torch.int64, device=device))
    example = [torch.from_numpy(a).to(device) for a in serving_inputs(model, one_empty_history).values()]
    names = input_names(model)
    with warnings.catch_warnings():
        # The torch.export-based exporter would need onnxscript; the TorchScript one does not.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(graph, tuple(example), path, dynamo=False, opset_version=opset_version,
                          input_names=names, output_names=["scores"],
                          dynamic_axes={name: {0: "batch"} for name in names + ["scores"]})
