"""When does INT8 pay? INT8 against FP32 speed per runtime over input size and batch.

    .venv/bin/python benchmarks/bench_int8_speed.py [--checkpoint profiles/checkpoints/mobilenet_v3_small-cifar10.pt]
        [--runtimes onnx,tflite] [--sizes 32,64,128,224] [--batches 1,8,32] [--json rows.json]
    .venv/bin/python benchmarks/bench_int8_speed.py --zoo resnet18,mobilenet_v2 --sizes 224 --batches 1,8

For each runtime, input side and batch, one ``edgecnn.export.export_model``
INT8 export of the checkpoint as the CLI runs it (the default method of
each format, 64 calibration images; ``--force-input-size`` where the side is
not the one it was trained at: the weights fit the zoo's model at any side,
though from 64 px on the zoo builds its ImageNet-size stem, so the MACs per
image change between 32 and 64 px; the speed at each side is real while the
accuracy stays the trained side's figure), timed against its FP32 twin in two isolated worker processes,
interleaved (``export/speedup.py``). No parity check: the accuracy of these
INT8 paths at the trained side is in ``docs/export.md``.

Printed per row: the conv/linear MACs of one call (all images of the batch,
counted analytically), FP32 and INT8 p50 in ms, the speed-up (FP32 p50 /
INT8 p50; above 1: INT8 is faster) and whether either timing series was
noisy. Then, per runtime, the smallest MACs per call from which every larger
measured call ran faster in INT8: below it per-operator overhead (the
quantise/dequantise steps, int8 kernels' set-up) outweighs the cheaper
arithmetic on this CPU.

``--zoo NAMES`` times zoo models at their own (ImageNet) size instead of a
checkpoint: the zoo's initial weights and 1,000 classes, calibrated on
CIFAR-10 images resized to the side. Their speed is real; they have no
accuracy (random weights), so no drop is claimed for them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CKPT = REPO / "profiles" / "checkpoints" / "mobilenet_v3_small-cifar10.pt"
FORMATS = {"onnx": "onnxruntime", "tflite": "litert", "openvino": "openvino", "executorch": "executorch"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None, help=f"default: {DEFAULT_CKPT.relative_to(REPO)}")
    ap.add_argument("--model", default=None, help="zoo name (default: the checkpoint's)")
    ap.add_argument("--zoo", default=None, help="zoo models (comma-separated) with their initial weights instead "
                    "of --checkpoint: speed only, no accuracy")
    ap.add_argument("--runtimes", default="onnx,tflite", help="export formats: " + ", ".join(FORMATS))
    ap.add_argument("--sizes", default="32,64,128,224")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--calibration-images", type=int, default=64)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--profiles", default=None, help="keep the export records here (default: not kept)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from edgecnn.cost.zoo_table import count_zoo
    from edgecnn.errors import EdgeCNNError, MissingDependencyError
    from edgecnn.export import EXPORTERS, export_model
    from edgecnn.export.int8_pays import break_even
    from edgecnn.machine import this_machine
    from edgecnn.models.checkpoint import read_checkpoint, trained_input_size
    from edgecnn.models.names import model_names

    def fail(message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)

    def whole_numbers(text: str, option: str) -> list[int]:
        try:
            values = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            values = []
        if not values or min(values) < 1:
            fail(f"{option} takes comma-separated whole numbers of 1 or more, not {text!r}")
        return values

    sizes = whole_numbers(args.sizes, "--sizes")
    batches = whole_numbers(args.batches, "--batches")
    formats = [f for f in args.runtimes.split(",") if f]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        fail(f"--runtimes takes export formats among {', '.join(FORMATS)}, not {args.runtimes!r}")
    if args.zoo and (args.checkpoint or args.model):
        fail("--zoo times zoo models with their initial weights: it takes no --checkpoint or --model")
    try:  # an unknown model or a missing or corrupt checkpoint: one line
        if args.zoo:
            names = [n for n in args.zoo.split(",") if n]
            for n in names:
                model_names().get(n)  # suggests the closest zoo names
            # (model, checkpoint, trained side, classes): the zoo's initial weights, its own classes
            jobs = [(n, None, None, None) for n in names]
            what = "zoo models with their initial weights (speed only)"
        else:
            ckpt = args.checkpoint or str(DEFAULT_CKPT)
            info = read_checkpoint(ckpt)
            model = args.model or info.get("model") or (info.get("config") or {}).get("name")
            if args.model:
                model_names().get(model)
            trained = trained_input_size(info)
            jobs = [(model, ckpt, trained, (info.get("config") or {}).get("num_classes"))]
            what = f"{model} ({ckpt}, trained at {trained} px)"
    except EdgeCNNError as exc:
        fail(str(exc))
    fp = this_machine()
    print(f"INT8 vs FP32 speed: {what}, batch and side as given; "
          f"CPU {fp.get('cpu')} ({' '.join(fp.get('isa') or [])}), {fp.get('cores')} cores", flush=True)
    print(f"{'model':<20} {'runtime':<12} {'side':>4} {'batch':>5} {'MMACs/call':>10} {'FP32 ms':>9} {'INT8 ms':>9} "
          f"{'speed-up':>8}  method", flush=True)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-int8-speed-") as tmp:
        for fmt in formats:
            entry = EXPORTERS.get(fmt)
            try:
                if entry.precheck:
                    entry.precheck("int8", entry.check("int8", {}))
            except MissingDependencyError as exc:
                print(f"{FORMATS.get(fmt, fmt):<12} skipped: {exc}", flush=True)
                continue
            for (model, ckpt, trained, classes), size, batch in itertools.product(jobs, sizes, batches):
                macs1 = count_zoo(model, size, num_classes=classes).totals["conv_linear_macs"]
                res = export_model(model, to=fmt, precision="int8", checkpoint=ckpt, input_size=size,
                                   force_input_size=trained is not None and size != trained, batch=batch,
                                   validate=False, speedup=True, calibration_images=args.calibration_images,
                                   data_dir=args.data_dir, out_dir=Path(tmp) / f"{fmt}-{model}-{size}-{batch}",
                                   profiles=args.profiles, warn=lambda _m: None)
                m = res.record.metrics
                r = {"model": model, "checkpoint": ckpt, "runtime": FORMATS.get(fmt, fmt), "format": fmt,
                     "size": size, "batch": batch, "macs": macs1 * batch, "fp32_ms": m.get("fp32_latency_ms_p50"),
                     "int8_ms": m.get("latency_ms_p50"), "speedup": m.get("speedup"),
                     "noisy": m.get("speedup_noisy"), "method": m.get("quant_method"), "status": res.status,
                     "error": res.error}
                rows.append(r)
                sp = f"{r['speedup']:.2f}x" if r["speedup"] else "-"
                print(f"{model:<20} {r['runtime']:<12} {size:>4} {batch:>5} {r['macs'] / 1e6:>10.1f} "
                      f"{r['fp32_ms'] or 0:>9.3f} {r['int8_ms'] or 0:>9.3f} {sp:>8}{'*' if r['noisy'] else ' '} "
                      f"{r['method'] or res.error or ''}", flush=True)
    print(f"speed-up = FP32 p50 / INT8 p50, isolated workers, interleaved; * = a noisy series; "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    # one break-even per runtime, and per model where there are several: across architectures the MACs of a
    # call do not decide it (docs/export.md, "When INT8 pays")
    groups = [(rt, m) for rt in dict.fromkeys(r["runtime"] for r in rows)
              for m in ([None] if len(jobs) == 1 else dict.fromkeys(r["model"] for r in rows))]
    for rt, model in groups:
        even = break_even([(r["macs"], r["speedup"]) for r in rows
                           if r["runtime"] == rt and model in (None, r["model"])])
        print(f"{rt}{' ' + model if model else ''}: "
              + (f"INT8 faster from {even / 1e6:.0f} MMACs per call on (every larger call measured)"
                 if even else "INT8 not faster at the largest call measured"), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    if any(r["status"] not in ("ok", "prepared") for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
