"""Quantisation-aware training (QAT) models: PT2E fake quantisation, as the INT8 export will run it.

A zoo model is captured with ``torch.export`` (batch dimension symbolic, in
training mode so BatchNorm stays trainable), annotated by ExecuTorch's
``XNNPACKQuantizer`` with its QAT configuration and prepared with torchao's
``prepare_qat_pt2e``. That is the INT8 scheme the exports run: int8 weights,
symmetric, one scale per output channel; int8 activations, asymmetric, one
scale per tensor; the quantizer's fused patterns (conv-bn, conv-bn-relu,
conv-relu, linear-relu, add-relu: no fake quantisation between a convolution
and its BatchNorm or ReLU, the BatchNorm folded into the convolution's
weights before they are fake-quantised). The fake quantisers observe moving
averages of the ranges while training; nothing here computes a scale by hand.

``QatModel`` wraps the prepared graph as a module the trainer can drive
(``train()``/``eval()`` switch the graph's BatchNorm and dropout with torchao's
``move_exported_model_to_train/eval``). Its ``state_dict`` holds the weights
and every fake quantiser's state (``graph.activation_post_process_N.*``); a
QAT checkpoint is a training checkpoint whose ``qat`` entry says so
(``QAT_KEY``, ``edgecnn.models.checkpoint``). ``converted()`` is the
``convert_pt2e`` graph with explicit quantize/dequantize ops and the trained
scales, which the ONNX exporter (dynamo, Q/DQ) and litert-torch (STATIC
Q/DQ -> full-integer TFLite) translate as they are.
"""

from __future__ import annotations

import copy
import os
import types
from typing import Any

from torch import nn

from edgecnn.errors import InvalidOptionError, require
from edgecnn.models.checkpoint import QAT_KEY

EXTRA = "executorch"  # the quantizer is ExecuTorch's (torchao comes with it)
QUANTIZER = "executorch XNNPACKQuantizer (QAT config)"
SCHEME = {"weights": "int8 symmetric, per output channel", "activations": "int8 asymmetric, per tensor",
          "fused": "conv-bn, conv-bn-relu, conv-relu, linear-relu, add-relu (XNNPACK patterns)",
          "observers": "moving-average min/max fake quantisers (FusedMovingAvgObsFakeQuantize)"}
QAT_FORMATS = ("onnx", "tflite", "openvino", "executorch")  # formats that take the trained scales as they are


def _quantizer() -> Any:
    require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", EXTRA, "quantisation-aware training")
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)

    return XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=True))


def _quiet_pytree() -> Any:
    """torchao's enum registration logs a torch deprecation at import; not ours to act on."""
    import logging

    log = logging.getLogger("torch.utils._pytree")
    level = log.level
    log.setLevel(logging.ERROR)
    return log, level


def prepare_qat(model: Any, input_size: int) -> Any:
    """``model`` (a zoo module with its weights) as a ``QatModel``; a model
    ``torch.export`` or the quantizer cannot take is one ``InvalidOptionError`` line."""
    import torch

    log, level = _quiet_pytree()
    quantizer = _quantizer()
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    name = getattr(model, "edgecnn_config", {}).get("name", type(model).__name__)
    dropped = without_stochastic_depth(model)
    device = next(model.parameters()).device
    sample = torch.randn(2, 3, input_size, input_size, device=device)  # 2: a batch of 1 would be specialised
    try:
        model.train()
        graph = torch.export.export(model, (sample,), dynamic_shapes=({0: torch.export.Dim("batch", min=1,
                                                                                             max=65536)},)).module()
        prepared = prepare_qat_pt2e(graph, quantizer)
    except Exception as exc:  # noqa: BLE001 - the capture or the quantizer refused this model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InvalidOptionError(f"{name} cannot be prepared for quantisation-aware training (torch.export + "
                                 f"XNNPACKQuantizer): {type(exc).__name__}: {first}"[:400]) from None
    finally:
        log.setLevel(level)
    qat = QatModel(prepared, model)
    if dropped:
        qat.edgecnn_qat["stochastic_depth_off"] = dropped  # layers whose stochastic depth the fine-tune went without
    return qat


def without_stochastic_depth(model: Any) -> int:
    """Turn off ``model``'s stochastic depth (torchvision ``StochasticDepth``,
    timm ``DropPath``) before the training-mode capture; returns how many
    layers had it. Those layers draw a random mask with ``bernoulli`` in
    training mode, and a captured graph keeps the draw in evaluation and
    export (``move_exported_model_to_eval`` swaps dropout and BatchNorm, not
    these): EfficientNet-B0's QAT model then dropped blocks at random in its own
    evaluation, ONNX kept the draw, and TFLite and ExecuTorch refused
    ``aten.bernoulli.p``. A short fine-tune loses nothing by going without it."""
    n = 0
    for m in model.modules():
        attr = {"StochasticDepth": "p", "DropPath": "drop_prob"}.get(type(m).__name__)
        if attr and getattr(m, attr, 0):
            setattr(m, attr, 0.0)
            n += 1
    return n


class QatModel(nn.Module):
    """A PT2E QAT graph with the zoo module's card and config (see module doc)."""

    def __init__(self, graph: Any, source: Any) -> None:
        super().__init__()
        self.graph = graph
        self.edgecnn_config = dict(getattr(source, "edgecnn_config", {}))
        self.edgecnn_card = getattr(source, "edgecnn_card", None)
        self.edgecnn_qat = {"quantizer": QUANTIZER, "scheme": dict(SCHEME)}
        self.train()

    def forward(self, x):
        return self.graph(x)

    def train(self, mode: bool = True):
        """Training: BatchNorm in batch mode, the fake quantisers observing ranges;
        evaluation: BatchNorm statistics and the scales frozen (an evaluation must
        not move the scales the export will take)."""
        from torchao.quantization.pt2e import move_exported_model_to_eval, move_exported_model_to_train
        from torchao.quantization.pt2e.fake_quantize import disable_observer, enable_observer

        self.training = mode
        (move_exported_model_to_train if mode else move_exported_model_to_eval)(self.graph)
        self.graph.apply(enable_observer if mode else disable_observer)
        return self

    def converted(self, fold_quantize: bool = True) -> Any:
        """The INT8 graph (``convert_pt2e``: quantize/dequantize ops with the
        trained scales; ``fold_quantize``: int8 weight constants, else float
        weights behind their quantize op, which litert-torch expects); the
        model itself is left as it is."""
        from torchao.quantization.pt2e import move_exported_model_to_eval
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

        graph = copy.deepcopy(self.graph)
        move_exported_model_to_eval(graph)
        converted = convert_pt2e(graph, fold_quantize=fold_quantize)
        # an exported graph refuses train()/eval() (torch sets both to raise); this one is in eval form already,
        # and the exporters call eval() on what they take
        converted.train = types.MethodType(_already_eval, converted)
        converted.eval = types.MethodType(_already_eval, converted)
        for m in converted.modules():
            m.training = False
        return converted

    def float_module(self) -> Any:
        """The zoo architecture with the fine-tuned float weights (no fake
        quantisation): the FP32 twin an INT8 export is timed against."""
        from edgecnn.models import create_model

        cfg = dict(self.edgecnn_config)
        model = create_model(cfg.pop("name"), **cfg)
        own = self.graph.state_dict()
        model.load_state_dict({k: own[k] for k in model.state_dict()})
        return model.eval()


def _already_eval(graph: Any, mode: bool = True) -> Any:
    return graph


def is_qat(model: Any) -> bool:
    """True for a ``QatModel`` (an INT8 exporter then takes its scales)."""
    return getattr(model, "edgecnn_qat", None) is not None


def load_qat_state(model: Any, state_dict: dict[str, Any], where: str) -> None:
    """Load a QAT ``state_dict`` (fake quantisers resize their per-channel
    buffers to the stored ones); another model or quantizer is one line."""
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise InvalidOptionError(f"{where} does not fit this QAT model: "
                                 f"{' '.join(first[:2])}"[:400]) from None


def load_qat_checkpoint(path: str | os.PathLike, model_name: str | None = None) -> tuple[Any, dict[str, Any]]:
    """``(QatModel in eval mode, checkpoint dict)`` of a QAT checkpoint written by
    ``edgecnn train --qat``."""
    from edgecnn.models import create_model
    from edgecnn.models.checkpoint import check_model_name, read_checkpoint

    ckpt = read_checkpoint(path)
    if not ckpt.get(QAT_KEY):
        raise InvalidOptionError(f"{path} is not a QAT checkpoint (write one with `edgecnn train MODEL --qat "
                                 f"--checkpoint FP32.pt`)")
    check_model_name(ckpt, path, model_name)
    cfg = dict(ckpt.get("config") or {})
    name = cfg.pop("name", None) or ckpt.get("model")
    model = create_model(name, **cfg)
    qat = prepare_qat(model, int(cfg.get("input_size") or model.edgecnn_card.input_size))
    load_qat_state(qat, ckpt["state_dict"], f"checkpoint {path}")
    qat.edgecnn_qat = {**qat.edgecnn_qat, **ckpt[QAT_KEY]}
    return qat.eval(), ckpt


def float_of(model: Any) -> Any:
    """The float module to export at FP32: a QAT model's fine-tuned float weights
    (its FP32 twin), any other model as it is."""
    return model.float_module() if is_qat(model) else model


def check_qat_export(fmt: str, precision: str, options: dict[str, Any]) -> None:
    """A QAT model exports at ``int8`` to ``QAT_FORMATS``, with its own scales
    (no PTQ method, float layers or top-1 search); anything else is one line."""
    if fmt not in QAT_FORMATS:
        raise InvalidOptionError(f"a QAT checkpoint exports to {', '.join(QAT_FORMATS)} (the formats that take its "
                                 f"trained scales as they are), not {fmt}")
    if precision != "int8":
        raise InvalidOptionError(f"a QAT checkpoint exports at --precision int8 (its fake quantisers are the INT8 "
                                 f"model), not {precision}")
    given = [k for k in ("quant_method", "keep_float", "max_drop") if options.get(k) is not None]
    if given:
        raise InvalidOptionError(f"a QAT checkpoint brings its own scales: --{given[0].replace('_', '-')} applies "
                                 f"to post-training quantisation")


def qat_figures(model: Any) -> dict[str, Any]:
    """The export record's QAT fields (``method`` qat, epochs, images, source)."""
    q = model.edgecnn_qat
    return {"method": "qat", "qat_quantizer": q.get("quantizer"), "qat_scheme": q.get("scheme"),
            "qat_epochs": q.get("epochs"), "qat_steps": q.get("steps"), "qat_images": q.get("images"),
            "qat_source_checkpoint": q.get("source_checkpoint"), "qat_source_top1": q.get("source_top1")}


