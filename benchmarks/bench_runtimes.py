"""Every local runtime at FP32 and at its fastest precision that passes parity.

For each model (the 5 default models at 224x224 unless ``--models``), every
runtime that runs here is exported at fp32 and at each lower precision it
offers (``edgecnn export`` with the parity check on real CIFAR-10 images;
random weights with BatchNorm re-estimated, as `profile` uses), and every
artifact that passed parity is timed, all of one model's artifacts interleaved,
each in a worker process of its own (``edgecnn.runtime.workers``: the
isolation `edgecnn profile` uses). Printed per (model, runtime): FP32 latency,
peak memory and size, then the fastest passing precision with the same figures
and its speed-up; precisions that failed parity are listed with the reason.

    .venv/bin/python benchmarks/bench_runtimes.py                      # 5 models (~30-60 min here)
    .venv/bin/python benchmarks/bench_runtimes.py --models mobilenet_v3_small --input-size 32
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "resnet18", "resnet50"]
# lower precisions each runtime's exporter offers, fastest first to try
LOWER = {"onnxruntime": ["int8"], "litert": ["int8", "fp16"], "openvino": ["int8", "bf16", "fp16"],
         "executorch": ["int8", "fp16"], "ncnn": ["fp16"], "mnn": ["int8", "fp16"], "torch": []}
EXPORT_OF = {"onnxruntime": "onnx", "litert": "tflite", "openvino": "openvino", "executorch": "executorch",
             "ncnn": "ncnn", "mnn": "mnn"}


def export(model: str, fmt: str, precision: str, size: int, out: Path, n_images: int) -> tuple[Path | None, str]:
    """(artifact, "ok") or (None, why it did not pass)."""
    from edgecnn.errors import EdgeCNNError
    from edgecnn.export import export_model

    try:
        res = export_model(model, to=fmt, precision=precision, out_dir=out, input_size=size, n_images=n_images,
                           profiles=None, warn=lambda m: None)
    except EdgeCNNError as exc:
        return None, str(exc).splitlines()[0]
    if res.status != "ok":
        return None, f"{res.status}: {(res.error or '')[:120]}"
    return Path(res.path), "ok"


def time_all(arts: dict[tuple[str, str], Path], size: int, threads: int, seconds: float) -> dict:
    from edgecnn.runtime.timing import TimingConfig
    from edgecnn.runtime.workers import RuntimeWorker, artifact_bytes, interleave_workers, memory_figures

    workers, infos = {}, {}
    for (rt, prec), path in arts.items():
        w = RuntimeWorker(rt, {"threads": threads, **({"precision": prec} if rt != "torch" else {})}).start()
        workers[(rt, prec)] = w
    try:
        for key, w in workers.items():
            infos[key] = w.request("load", artifact=str(arts[key]), batch=1, size=size)
        cfg = TimingConfig(warmup=5, warmup_s=0.3, runs=20, min_time_s=seconds, max_time_s=seconds * 4)
        stats = interleave_workers({f"{k[0]}:{k[1]}": w for k, w in workers.items()}, cfg)
        out = {}
        for key, w in workers.items():
            st = stats[f"{key[0]}:{key[1]}"]
            mem = memory_figures(infos[key], w.request("memory"))
            out[key] = {"ms": st.median_ms, "p90": st.p90_ms, "spread": st.spread, "peak_mb": mem.get("memory_peak_mb"),
                        "added_mb": mem.get("memory_added_mb"),
                        "bytes": artifact_bytes(arts[key], key[0])}
        return out
    finally:
        for w in workers.values():
            w.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--input-size", type=int, default=None)
    ap.add_argument("--runtimes", default=None, help="default: every runtime that runs here (no TensorRT)")
    ap.add_argument("--n-images", type=int, default=50, help="real test images for each parity check")
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per artifact")
    args = ap.parse_args()
    import torch

    from edgecnn.models import create_model, get_card
    from edgecnn.runtime import RUNNERS, default_threads

    threads = default_threads()
    runtimes = args.runtimes.split(",") if args.runtimes else [
        rt for rt in ("torch", *EXPORT_OF) if RUNNERS.get(rt).unavailable_reason() is None]
    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="edgecnn-bench-runtimes-") as tmp:
        for model in [m for m in args.models.split(",") if m]:
            size = args.input_size or get_card(model).input_size
            arts: dict[tuple[str, str], Path] = {}
            for rt in runtimes:
                if rt == "torch":
                    pt = Path(tmp) / f"{model}-{size}.pt"
                    torch.save(create_model(model, input_size=size).eval(), pt)
                    arts[(rt, "fp32")] = pt
                    continue
                for prec in ["fp32", *LOWER[rt]]:
                    path, why = export(model, EXPORT_OF[rt], prec, size, Path(tmp) / model, args.n_images)
                    print(f"{model} {rt} {prec}: {why}", file=sys.stderr, flush=True)
                    if path is None:
                        failed.append((model, rt, prec, why))
                    else:
                        arts[(rt, prec)] = path
            timed = time_all(arts, size, threads, args.seconds)
            for rt in runtimes:
                if (rt, "fp32") not in timed:
                    continue
                base = timed[(rt, "fp32")]
                lower = [(p, timed[(rt, p)]) for p in LOWER[rt] if (rt, p) in timed]
                best = min(lower, key=lambda kv: kv[1]["ms"]) if lower else None
                rows.append((model, size, rt, base, best))
    print(f"fp32 and the fastest precision that passed parity, {threads} threads, batch 1, each runtime in its own "
          f"process, one model's artifacts timed interleaved (median ms; spread = (p90 - p10) / median)")
    print(f"{'model':<20} {'size':>4} {'runtime':<12} {'fp32 ms':>8} {'peak MB':>8} {'file MB':>8}   "
          f"{'best':<5} {'ms':>8} {'speed-up':>8} {'peak MB':>8} {'file MB':>8}")
    for model, size, rt, base, best in rows:
        line = (f"{model:<20} {size:>4} {rt:<12} {base['ms']:>8.3f} {base['peak_mb'] or 0:>8.1f} "
                f"{base['bytes'] / 2**20:>8.2f}   ")
        if best:
            p, b = best
            line += (f"{p:<5} {b['ms']:>8.3f} {base['ms'] / b['ms']:>7.2f}x {b['peak_mb'] or 0:>8.1f} "
                     f"{b['bytes'] / 2**20:>8.2f}")
        else:
            line += "-     (no lower precision passed parity)"
        print(line)
    if failed:
        print("\nnot timed (export or parity failed):")
        for model, rt, prec, why in failed:
            print(f"  {model} {rt} {prec}: {why}")
    spreads = [b["spread"] for *_, b, _ in rows]
    if spreads:
        print(f"\nmedian spread of the fp32 timings: {statistics.median(spreads):.2f}")


if __name__ == "__main__":
    main()
