"""INT8 per runtime and method for one trained checkpoint: accuracy kept, speed gained, size.

    .venv/bin/python benchmarks/bench_int8.py --checkpoint profiles/checkpoints/mobilenet_v3_small.pt
        [--model mobilenet_v3_small] [--runtimes onnx,tflite,openvino,executorch,mnn]
        [--onnx-methods per-tensor,per-channel,...] [--tflite-methods min-max,mse] [--max-drop 0.5]
        [--n-images 10000] [--calibration-images 128] [--out DIR] [--profiles DIR] [--json rows.json]
        [--no-speedup]

Per runtime: the FP32 export (its top-1 on ``--n-images`` CIFAR-10 test
images: the 10,000 of the test set by default), then one INT8 export per
method, and one with ``--max-drop`` (mixed precision: the most sensitive
layers kept in float until the drop on 2,000 held-out training images is
within the budget). Every INT8 row is ``edgecnn.export.export_model`` as the
CLI runs it: its top-1 on the same test images, the drop against the FP32
artifact of the same runtime (points), the speed-up against that FP32
artifact (``export/speedup.py``: both in isolated worker processes, rounds
interleaved; batch 1) and the file size (MB = 1e6 bytes). OpenVINO
(NNCF), ExecuTorch (XNNPACK PT2E) and MNN (its quantization tool) quantise
with their own tools: one row each. Records go to ``--profiles`` (default: a
temporary folder, not kept). A runtime whose extra is not installed is
skipped with a line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ONNX_METHODS = "per-tensor,per-channel,entropy,percentile,reduce-range,u8u8,nncf,nncf-bc,cle-nncf-bc"
TFLITE_METHODS = "min-max,mse"
FORMAT_OF = {"onnx": "onnx", "tflite": "tflite", "openvino": "openvino", "executorch": "executorch", "mnn": "mnn"}
HEADER = (f"{'runtime':<11} {'method':<22} {'float':>5} {'FP32 top-1':>10} {'INT8 top-1':>10} {'drop':>6} "
          f"{'speed-up':>8} {'FP32 ms':>8} {'INT8 ms':>8} {'MB':>6} {'FP32 MB':>7}  status")


def line(r: dict[str, Any]) -> str:
    def f(v: Any, fmt: str, w: int) -> str:
        return f"{v:{fmt}}".rjust(w) if isinstance(v, (int, float)) else "-".rjust(w)

    return (f"{r['runtime']:<11} {r['method']:<22} {f(r.get('float_layers'), 'd', 5)} {f(r.get('fp32_top1'), '.2f', 10)} "
            f"{f(r.get('top1'), '.2f', 10)} {f(r.get('drop'), '+.2f', 6)} {f(r.get('speedup'), '.2f', 7)}x "
            f"{f(r.get('fp32_ms'), '.3f', 8)} {f(r.get('int8_ms'), '.3f', 8)} {f(r.get('mb'), '.2f', 6)} "
            f"{f(r.get('fp32_mb'), '.2f', 7)}  {r['status']}{'*' if r.get('noisy') else ''}")


def plan(args: argparse.Namespace) -> list[tuple[str, str, dict[str, Any]]]:
    """(runtime, method label, export options) of every INT8 export."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for rt in [r for r in args.runtimes.split(",") if r]:
        if rt == "onnx":
            out += [(rt, m, {"quant_method": m}) for m in args.onnx_methods.split(",") if m]
            if args.max_drop is not None:
                out.append((rt, f"auto + max-drop {args.max_drop:g}", {"quant_method": "auto",
                                                                        "max_drop": args.max_drop}))
        elif rt == "tflite":
            out += [(rt, m, {"quant_method": m}) for m in args.tflite_methods.split(",") if m]
            if args.max_drop is not None:
                out.append((rt, f"min-max + max-drop {args.max_drop:g}", {"quant_method": "min-max",
                                                                           "max_drop": args.max_drop}))
        else:
            out.append((rt, {"openvino": "nncf (OpenVINO)", "executorch": "xnnpack pt2e", "mnn": "mnn KL"}[rt], {}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--model", default=None, help="zoo name (default: the checkpoint's)")
    ap.add_argument("--runtimes", default="onnx,tflite,openvino,executorch,mnn")
    ap.add_argument("--onnx-methods", default=ONNX_METHODS)
    ap.add_argument("--tflite-methods", default=TFLITE_METHODS)
    ap.add_argument("--max-drop", type=float, default=0.5, help="points; a negative value skips mixed precision")
    ap.add_argument("--n-images", type=int, default=10000)
    ap.add_argument("--calibration-images", type=int, default=128)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--profiles", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-speedup", action="store_true",
                    help="accuracy only: no timing against the FP32 twin (the speed table is bench_int8_speed.py's)")
    args = ap.parse_args()
    if args.max_drop is not None and args.max_drop < 0:
        args.max_drop = None

    from edgecnn.errors import EdgeCNNError, MissingDependencyError
    from edgecnn.export import EXPORTERS, export_model
    from edgecnn.models.checkpoint import read_checkpoint

    try:  # a missing or corrupt checkpoint: one line, before anything is exported
        model = args.model or read_checkpoint(args.checkpoint).get("model")
    except EdgeCNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    tmp = tempfile.TemporaryDirectory(prefix="bench-int8-")
    out = Path(args.out or tmp.name)
    profiles = args.profiles or str(Path(tmp.name) / "profiles")
    common = dict(checkpoint=args.checkpoint, out_dir=out, profiles=profiles, n_images=args.n_images,
                  calibration_images=args.calibration_images, data_dir=args.data_dir)
    t0 = time.perf_counter()
    speed = ("no speed-up timed (--no-speedup)" if args.no_speedup else
             "speed-up = FP32 p50 / INT8 p50 on the same runtime (isolated workers, interleaved, batch 1)")
    print(f"edgecnn INT8 benchmark: {model} ({args.checkpoint}), top-1 on {args.n_images} CIFAR-10 test images, "
          f"{speed}", flush=True)
    print(HEADER, flush=True)
    fp32: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for rt, label, opts in plan(args):
        fmt = FORMAT_OF[rt]
        try:
            entry = EXPORTERS.get(fmt)
            if entry.precheck:
                entry.precheck("int8", entry.check("int8", {k: v for k, v in opts.items()}))
        except MissingDependencyError as exc:
            print(f"{rt:<11} skipped: {exc}", flush=True)
            continue
        if rt not in fp32:
            res = export_model(model, to=fmt, precision="fp32", speedup=False, **common)
            m = res.record.metrics
            fp32[rt] = {"top1": m.get("top1"), "mb": (m.get("file_bytes") or 0) / 1e6}
        res = export_model(model, to=fmt, precision="int8", **common, **opts,
                           **({"speedup": False} if args.no_speedup else {}))
        m = res.record.metrics
        ref = fp32[rt]["top1"]
        r = {"runtime": rt, "method": label, "status": res.status, "float_layers": len(m.get("float_nodes") or []),
             "float_nodes": m.get("float_nodes"), "fp32_top1": ref, "top1": m.get("top1"),
             "drop": (ref - m["top1"]) if ref is not None and m.get("top1") is not None else None,
             "torch_top1": m.get("top1_reference"), "speedup": m.get("speedup"),
             "fp32_ms": m.get("fp32_latency_ms_p50"), "int8_ms": m.get("latency_ms_p50"),
             "mb": (m.get("file_bytes") or 0) / 1e6, "fp32_mb": fp32[rt]["mb"], "noisy": m.get("speedup_noisy"),
             "search_drop": m.get("search_drop"), "quant_method": m.get("quant_method"), "error": res.error}
        rows.append(r)
        print(line(r), flush=True)
    print(f"drop = FP32 artifact top-1 - INT8 top-1 (points, same runtime, same images); float = layers kept in "
          f"float; * = a noisy timing series; MB = 1e6 bytes; {time.perf_counter() - t0:.0f} s", flush=True)
    for r in rows:
        if r["float_nodes"]:
            print(f"{r['runtime']} {r['method']}: kept in float: {', '.join(r['float_nodes'])}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
