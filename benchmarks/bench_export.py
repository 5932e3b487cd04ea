"""Export every model to every format asked for, check it on real images, time its artifact.

    .venv/bin/python benchmarks/bench_export.py [--models mobilenet_v1,resnet18] [--formats onnx,tflite]
        [--extra mobilenet_v2,resnet18] [--size 224] [--n-images 100] [--checkpoint NAME=PATH ...]
        [--runs 20] [--min-time 1.0] [--threads N] [--json rows.json] [--out DIR]

Per model and export: export time (s, the converter only), file size (MB =
1e6 bytes), the parity figures of ``edgecnn.export`` against PyTorch on
``--n-images`` CIFAR-10 test images (max |logit diff|, mean cosine, top-1
agreement, top-1 accuracy of the artifact / of PyTorch when the model has 10
classes), and the latency of the artifact on its runtime (batch 1, median and
p90 in ms) with the shared runners of ``edgecnn.runtime`` and the timing loop of
``edgecnn.runtime.timing``. A ``pytorch`` row per model times eager PyTorch on
the same runner loop for comparison.

``--formats`` are exported at FP32 for every model; the ``--extra`` models also
get FP16 (TFLite), INT8 (ONNX Runtime Q/DQ, TensorRT-ready symmetric Q/DQ run on
ONNX Runtime, TFLite full-integer) and TFLite dynamic-range INT8. Without a
checkpoint, weights are random with BatchNorm statistics re-estimated on real
training images (accuracy is then chance level; the parity figures still hold).
Artifacts go to a temporary folder (``--out`` keeps them); no records are written.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

MODELS = "mobilenet_v1,mobilenet_v2,mobilenet_v3_small,resnet18,resnet50"
EXTRA = "mobilenet_v2,resnet18"
EXTRA_EXPORTS = [("tflite", "fp16", {}), ("onnx", "int8", {}), ("tensorrt", "int8", {"prepare_only": True}),
                 ("tflite", "int8", {}), ("tflite", "int8_dynamic", {})]
COLUMNS = (f"{'model':<20} {'format':<9} {'prec':<12} {'status':<17} {'export s':>8} {'MB':>7} "
           f"{'max|d|':>8} {'cos':>8} {'agree':>6} {'top-1 art/torch':>15} {'p50 ms':>8} {'p90 ms':>8}  runtime")


def time_artifact(runtime: str, path_or_model: Any, shape: list[int], threads: int | None, runs: int,
                  min_time_s: float) -> dict[str, Any]:
    """Latency of one artifact at batch 1 (ms): the shared runner and timing loop."""
    from edgecnn.runtime import RUNNERS
    from edgecnn.runtime.timing import measure, random_inputs

    runner = RUNNERS.get(runtime)(threads=threads)
    runner.load(path_or_model)
    try:
        fixed = [d if d and d > 0 else 1 for d in (runner.input_shape or shape)]
        inputs = random_inputs(fixed, runner.input_dtype, count=4)
        stats = measure(runner.infer, inputs=inputs, sync=runner.sync, runs=runs, min_time_s=min_time_s,
                        max_time_s=max(30.0, min_time_s))
        return {**stats.to_metrics(), "threads": runner.threads, "input_dtype": str(runner.input_dtype)}
    finally:
        runner.close()


def row(model: str, fmt: str, precision: str, status: str, m: dict[str, Any], lat: dict[str, Any] | None,
        runtime: str) -> str:
    def f(key: str, spec: str) -> str:
        return format(m[key], spec) if m.get(key) is not None else "-"

    top1 = f"{m['top1']:.1f}/{m['top1_reference']:.1f}%" if m.get("top1") is not None else "-"
    mb = f"{m['file_bytes'] / 1e6:.2f}" if m.get("file_bytes") else "-"
    p50 = f"{lat['latency_ms_p50']:.2f}" if lat else "-"
    p90 = f"{lat['latency_ms_p90']:.2f}{'*' if lat['noisy'] else ' '}" if lat else "- "
    return (f"{model:<20} {fmt:<9} {precision:<12} {status:<17} {f('export_s', '.1f'):>8} {mb:>7} "
            f"{f('max_abs_diff', '.1e'):>8} {f('cosine', '.5f'):>8} {f('top1_agreement', '.1f'):>6} {top1:>15} "
            f"{p50:>8} {p90:>9} {runtime}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--formats", default="onnx,tflite", help="formats exported at FP32 for every model")
    ap.add_argument("--extra", default=EXTRA, help="models that also get FP16 / INT8 exports ('' for none)")
    ap.add_argument("--size", type=int, default=None, help="input side in pixels (default: the model's, 224)")
    ap.add_argument("--num-classes", type=int, default=None)
    ap.add_argument("--n-images", type=int, default=100, help="real CIFAR-10 test images for parity")
    ap.add_argument("--calibration-images", type=int, default=128)
    ap.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                    help="trained weights for a model (added to --models and --extra)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds of timed calls at least")
    ap.add_argument("--threads", type=int, default=None, help="runtime threads (default: up to 4 cores)")
    ap.add_argument("--no-torch", action="store_true", help="skip the eager PyTorch row")
    ap.add_argument("--out", default=None, help="keep the artifacts here (default: a temporary folder)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args()
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")

    import torch

    from edgecnn.export import export_model
    from edgecnn.runtime import default_threads

    checkpoints = dict(c.split("=", 1) for c in args.checkpoint)
    models = [m for m in args.models.split(",") if m] + [m for m in checkpoints if m not in args.models.split(",")]
    extra = set(filter(None, args.extra.split(","))) | set(checkpoints)
    tmp = None if args.out else tempfile.TemporaryDirectory(prefix="edgecnn-bench-export-")
    out = Path(args.out or tmp.name)
    threads = args.threads or default_threads()
    print(f"edgecnn export benchmark: batch 1, {threads} runtime threads, parity on {args.n_images} CIFAR-10 "
          f"test images, latency = median/p90 of >= {args.runs} calls and >= {args.min_time:g} s "
          f"(edgecnn.runtime.timing)")
    print(COLUMNS, flush=True)
    rows = []
    for model in models:
        plan = [(fmt, "fp32", {}) for fmt in args.formats.split(",") if fmt]
        if model in extra:
            plan += EXTRA_EXPORTS
        for fmt, precision, opts in plan:
            kw = dict(checkpoint=checkpoints.get(model), input_size=args.size, num_classes=args.num_classes,
                      n_images=args.n_images, calibration_images=args.calibration_images,
                      data_dir=args.data_dir, profiles=None, warn=lambda msg: None, **opts)
            t0 = time.perf_counter()
            res = export_model(model, to=fmt, precision=precision, out_dir=out / model, **kw)
            m = dict(res.record.metrics)
            lat = None
            runtime = res.record.runtime or "-"
            if res.path is not None:
                shape = [1, *res.record.input_shape]
                lat = time_artifact(runtime, res.path, shape, threads, args.runs, args.min_time)
            print(row(model, fmt, precision, res.status, m, lat, runtime), flush=True)
            rows.append({"model": model, "format": fmt, "precision": precision, "status": res.status,
                         "error": res.error, "runtime": runtime, **m, "latency": lat,
                         "wall_s": time.perf_counter() - t0})
        if not args.no_torch:
            from edgecnn.export.api import resolve_model

            net = resolve_model(model, checkpoints.get(model), args.size, args.num_classes)[0]
            size = int(net.edgecnn_config["input_size"])
            lat = time_artifact("torch", net, [1, 3, size, size], threads, args.runs, args.min_time)
            print(row(model, "pytorch", "fp32", "-", {}, lat, "torch eager"), flush=True)
            rows.append({"model": model, "format": "pytorch", "precision": "fp32", "runtime": "torch",
                         "latency": lat})
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str) + "\n")
    print(f"torch {torch.__version__}; MB = 1e6 bytes; top-1 only for 10-class models; * = noisy series "
          "(p10-p90 spread > 25 % of the median or drift > 10 %); tensorrt int8 = the TensorRT-ready Q/DQ ONNX "
          "run on ONNX Runtime (no engine here)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
