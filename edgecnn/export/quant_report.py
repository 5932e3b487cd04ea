"""``edgecnn quantize-report``: per-layer INT8 sensitivity of a checkpoint.

Builds the checkpoint's model, exports it to a dynamic-batch FP32 ONNX graph
(in a temp folder), calibrates on real training images, and runs
``sensitivity.layer_sensitivity`` on real test images. Besides the ranking it
reports the whole-model INT8 figures twice: with ONNX Runtime's integer
kernels (what a deployment runs) and **simulated** (the same Q/DQ graph with
graph optimisations off, so every DequantizeLinear feeds a float kernel). A
gap between the two is the kernels' doing, not the quantisation's: on x86
without VNNI, u8 x s8 products summed in int16 saturate (see ``quantize.py``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgecnn.export.sensitivity import Sensitivity, compare, layer_sensitivity, onnx_logits

DEFAULT_IMAGES = 300


@dataclass
class QuantReport:
    model: str
    checkpoint: str
    method: str
    sensitivity: Sensitivity
    simulated: dict[str, Any]  # whole model INT8, computed in float (graph optimisations off)
    calibration_images: int

    def to_dict(self) -> dict[str, Any]:
        s = self.sensitivity
        return {"model": self.model, "checkpoint": self.checkpoint, "method": self.method,
                "ranked_with": s.ranked_with, "n_images": s.n_images, "calibration_images": self.calibration_images,
                "fp32_top1": s.reference_top1, "int8": s.all_int8, "int8_simulated": self.simulated,
                "layers": s.rows}


def quantize_report(checkpoint: str | os.PathLike, model_name: str | None = None, *, method: str | None = None,
                    n_images: int = DEFAULT_IMAGES, calibration_images: int = 128, dataset: str = "cifar10",
                    data_dir: str | None = None, split: str = "test",
                    progress: Callable[[int, int, str], None] | None = None) -> QuantReport:
    """Sensitivity of every layer of ``checkpoint`` (see module doc); top-1 in percent."""
    import torch

    from edgecnn.errors import InvalidOptionError
    from edgecnn.export.calibration import calibration_arrays, load_images, model_tensors
    from edgecnn.export.onnx import export_fp32
    from edgecnn.export.quantize import quantize_onnx, resolve_method
    from edgecnn.models.checkpoint import load_checkpoint_info

    if n_images < 1 or calibration_images < 1:
        raise InvalidOptionError("--n-images and --calibration-images must be >= 1")
    m = resolve_method(method)
    model, info = load_checkpoint_info(checkpoint, model_name)
    name = model.edgecnn_config.get("name", model_name)
    card = model.edgecnn_card
    size = int(model.edgecnn_config.get("input_size") or card.input_size)
    norm = {"mean": tuple(info.get("mean") or card.mean), "std": tuple(info.get("std") or card.std)}
    images = load_images(dataset, split, n_images, data_dir=data_dir)
    n_classes = int(model.edgecnn_config.get("num_classes", card.num_classes))
    labels = np.asarray(images.labels) if images.num_classes == n_classes else None
    x = np.concatenate([t.numpy() for t in model_tensors(images.images, norm, size, 256)])
    calib = load_images(dataset, "train", calibration_images, data_dir=data_dir).images
    batches = calibration_arrays(calib, norm, size, batch=1)
    with tempfile.TemporaryDirectory(prefix="edgecnn-qreport-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_fp32(model, torch.from_numpy(x[:1]), fp32, {}, dynamic_batch=True)
        sens = layer_sensitivity(fp32, batches, x, labels, m, progress=progress)
        q = Path(tmp) / "int8.onnx"
        quantize_onnx(fp32, q, batches, m)
        ref = onnx_logits(fp32, x)
        simulated = compare(ref, onnx_logits(q, x, optimize=False), labels)
        if m.tool != "onnxruntime":  # the ranking's all-INT8 row is the proxy's; report the method's own
            sens.all_int8 = compare(ref, onnx_logits(q, x), labels)
    return QuantReport(name, str(checkpoint), m.name, sens, simulated, len(calib))
