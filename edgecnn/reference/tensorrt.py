"""TensorRT engines in the reference run, where TensorRT is on the machine.

Per model and (precision, batch): the random-weight model is exported to
ONNX here (``torch.onnx.export``, TorchScript exporter, opset 17; the dynamo
exporter if that fails), the engine is built with the TensorRT Python API
(FP16 from the FP32 ONNX with the FP16 flag; INT8 with TensorRT's entropy
calibrator on real CIFAR-10 training images resized to the model's input,
the FP16 flag too for layers left in float) and timed with the same split
as the torch runner (``edgecnn.runtime.device_timing``: device compute with
CUDA events, copies from pinned buffers, end to end). Without the module
the run writes a ``tensorrt`` probe record instead (``machine.probe_record``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from edgecnn.records import Record
from edgecnn.runtime.timing import TimingConfig, random_inputs

CALIBRATION_IMAGES = 256
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def export_onnx(model: Any, batch: int, size: int, path: Path) -> str:
    """The ONNX file of ``model`` at a fixed ``batch``; returns the exporter used."""
    import torch

    x = torch.randn(batch, 3, size, size)
    errors = []
    for dynamo in (False, True):
        try:
            torch.onnx.export(model, (x,), str(path), input_names=["input"], output_names=["logits"],
                              opset_version=17, dynamo=dynamo)
            return "dynamo" if dynamo else "torchscript"
        except Exception as exc:  # noqa: BLE001 - the other exporter gets its try
            errors.append(f"{'dynamo' if dynamo else 'torchscript'}: {type(exc).__name__}: {exc}")
    raise RuntimeError("torch.onnx.export failed: " + " | ".join(e[:500] for e in errors))


def calibration_images(data: Path, size: int, count: int = CALIBRATION_IMAGES) -> np.ndarray:
    """``count`` CIFAR-10 training images, resized to ``size`` (bilinear) and
    normalised with ImageNet's statistics, as float32 N x 3 x size x size."""
    import torch
    import torch.nn.functional as F

    from edgecnn.data import load_dataset

    ds = load_dataset("cifar10", "train", data)
    x = torch.from_numpy(np.asarray(ds.images[:count])).permute(0, 3, 1, 2).float() / 255.0
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).numpy().astype(np.float32)


def engine_records(name: str, runs: Sequence[tuple[str, int]], *, work: Path, data: Path, device_name: str,
                   env: dict[str, Any], probe: dict[str, Any], timing: TimingConfig, copy_timing: TimingConfig,
                   left: Callable[[], float], need_s: float = 60.0, input_size: Optional[int] = None,
                   log: Callable[[str], None] = print) -> list[Record]:
    """Build and time one model's engines (see the module doc); a run that
    fails is a ``failed`` record, one without time left is not started."""
    import torch

    from edgecnn.models import create_model

    torch.manual_seed(0)
    model = create_model(name, input_size=input_size).eval()
    size = int(model.edgecnn_config["input_size"])
    out = []
    for precision, batch in runs:
        base = Record(kind="latency", model=name, device=device_name, runtime="tensorrt", format="engine",
                      precision=precision, batch=batch, input_shape=[3, size, size], variant="cuda",
                      env=dict(env, accel="cuda"))
        if left() < need_s:
            base.status, base.error = "failed", f"not started: {max(0.0, left()):.0f} s left (needs ~{need_s:.0f} s)"
            out.append(base)
            continue
        try:
            base.metrics = _time_engine(model, precision, batch, size, work, data, timing, copy_timing, probe)
        except Exception as exc:  # noqa: BLE001 - one engine's failure is its record
            base.status, base.error = "failed", f"{type(exc).__name__}: {str(exc)[:2000]}"
        log(f"tensorrt {name} {precision} batch {batch}: " + (base.error or
            f"{base.metrics['latency_ms_p50']:.3f} ms device, {base.metrics.get('end_to_end_ms_p50', 0):.3f} ms "
            f"end to end"))
        out.append(base)
    return out


def _time_engine(model: Any, precision: str, batch: int, size: int, work: Path, data: Path, timing: TimingConfig,
                 copy_timing: TimingConfig, probe: dict[str, Any]) -> dict[str, Any]:
    from edgecnn.runtime import TensorRTRunner
    from edgecnn.runtime.device_timing import time_split

    work.mkdir(parents=True, exist_ok=True)
    onnx_path = work / f"trt-{id(model)}-b{batch}.onnx"
    exporter = export_onnx(model, batch, size, onnx_path)
    opts: dict[str, Any] = {"input_shape": [batch, 3, size, size]}
    if precision == "int8":
        opts.update(calibration_images=calibration_images(data, size), calibration_batch=batch)
    runner = TensorRTRunner(precision=precision, **opts).load(onnx_path)
    try:
        xs = random_inputs([batch, 3, size, size], count=4)
        st = time_split({"trt": runner}, {"trt": xs}, config=timing, copy_config=copy_timing)["trt"]
        m = st.to_metrics()
        m.update(runner=runner.describe(), timing_config=timing.to_dict(), copy_timing_config=copy_timing.to_dict(),
                 probe=probe, timing_note=f"engine built here from an ONNX file ({exporter} exporter), random "
                                          f"weights; INT8 scales from TensorRT's entropy calibrator"
                 if precision == "int8" else f"engine built here from an ONNX file ({exporter} exporter), random "
                                             f"weights")
        return m
    finally:
        runner.close()
        onnx_path.unlink(missing_ok=True)
