"""When does INT8 pay? INT8 against FP32 speed per runtime over input size and batch.

    .venv/bin/python benchmarks/bench_int8_speed.py [--checkpoint profiles/checkpoints/mobilenet_v3_small-cifar10.pt]
        [--runtimes onnx,tflite] [--sizes 32,64,128,224] [--batches 1,8,32] [--json rows.json]

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
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--checkpoint", default=str(DEFAULT_CKPT))
    ap.add_argument("--model", default=None, help="zoo name (default: the checkpoint's)")
    ap.add_argument("--runtimes", default="onnx,tflite", help="export formats: " + ", ".join(FORMATS))
    ap.add_argument("--sizes", default="32,64,128,224")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--calibration-images", type=int, default=64)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--profiles", default=None, help="keep the export records here (default: not kept)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from edgecnn.cost.zoo_table import count_zoo
    from edgecnn.errors import MissingDependencyError
    from edgecnn.export import EXPORTERS, export_model
    from edgecnn.export.int8_pays import break_even
    from edgecnn.machine import this_machine
    from edgecnn.models.checkpoint import read_checkpoint, trained_input_size

    info = read_checkpoint(args.checkpoint)
    model = args.model or info.get("model") or (info.get("config") or {}).get("name")
    trained = trained_input_size(info)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    batches = [int(b) for b in args.batches.split(",") if b]
    fp = this_machine()
    print(f"INT8 vs FP32 speed: {model} ({args.checkpoint}, trained at {trained} px), batch and side as given; "
          f"CPU {fp.get('cpu')} ({' '.join(fp.get('isa') or [])}), {fp.get('cores')} cores", flush=True)
    print(f"{'runtime':<12} {'side':>4} {'batch':>5} {'MMACs/call':>10} {'FP32 ms':>9} {'INT8 ms':>9} "
          f"{'speed-up':>8}  method", flush=True)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-int8-speed-") as tmp:
        for fmt in [f for f in args.runtimes.split(",") if f]:
            entry = EXPORTERS.get(fmt)
            try:
                if entry.precheck:
                    entry.precheck("int8", entry.check("int8", {}))
            except MissingDependencyError as exc:
                print(f"{FORMATS.get(fmt, fmt):<12} skipped: {exc}", flush=True)
                continue
            for size in sizes:
                classes = (info.get("config") or {}).get("num_classes")
                macs1 = count_zoo(model, size, num_classes=classes).totals["conv_linear_macs"]
                for batch in batches:
                    res = export_model(model, to=fmt, precision="int8", checkpoint=args.checkpoint, input_size=size,
                                       force_input_size=size != trained, batch=batch, validate=False, speedup=True,
                                       calibration_images=args.calibration_images, data_dir=args.data_dir,
                                       out_dir=Path(tmp) / f"{fmt}-{size}-{batch}", profiles=args.profiles,
                                       warn=lambda _m: None)
                    m = res.record.metrics
                    r = {"runtime": FORMATS.get(fmt, fmt), "format": fmt, "size": size, "batch": batch,
                         "macs": macs1 * batch, "fp32_ms": m.get("fp32_latency_ms_p50"),
                         "int8_ms": m.get("latency_ms_p50"), "speedup": m.get("speedup"),
                         "noisy": m.get("speedup_noisy"), "method": m.get("quant_method"), "status": res.status,
                         "error": res.error}
                    rows.append(r)
                    sp = f"{r['speedup']:.2f}x" if r["speedup"] else "-"
                    print(f"{r['runtime']:<12} {size:>4} {batch:>5} {r['macs'] / 1e6:>10.1f} "
                          f"{r['fp32_ms'] or 0:>9.3f} {r['int8_ms'] or 0:>9.3f} {sp:>8}{'*' if r['noisy'] else ' '} "
                          f"{r['method'] or res.error or ''}", flush=True)
    print(f"speed-up = FP32 p50 / INT8 p50, isolated workers, interleaved; * = a noisy series; "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    for rt in dict.fromkeys(r["runtime"] for r in rows):
        even = break_even([(r["macs"], r["speedup"]) for r in rows if r["runtime"] == rt])
        print(f"{rt}: " + (f"INT8 faster from {even / 1e6:.0f} MMACs per call on (every larger call measured)"
                           if even else "INT8 not faster at the largest call measured"), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    if any(r["status"] not in ("ok", "prepared") for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
