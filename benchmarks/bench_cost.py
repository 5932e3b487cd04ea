"""How long `edgecnn.cost.count_cost` takes per model, with the MACs and
parameters it counts. Target: a 224x224 ResNet-50 in under 5 s.

    .venv/bin/python benchmarks/bench_cost.py [--models resnet50,mobilenet_v2] [--size 224] [--repeats 3] [--meta]

Models come from the edgecnn zoo. Random weights on the CPU (one thread) unless --meta (shapes only).
The time is the median over --repeats calls of count_cost (one forward pass
with the tracer), excluding model construction.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

DEFAULT = "resnet50,mobilenet_v1,mobilenet_v2,mobilenet_v3_small,mobilenet_v3_large,efficientnet_b0,alexnet,vgg16"


def build(name: str, meta: bool):
    from edgecnn.models import create_model

    with torch.device("meta" if meta else "cpu"):
        return create_model(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--meta", action="store_true", help="count on the meta device (no arithmetic)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from edgecnn.cost import count_cost

    print(f"count_cost at {args.size}x{args.size}, batch 1, {'meta device' if args.meta else 'CPU, 1 thread'}, "
          f"median of {args.repeats}")
    print(f"{'model':<20} {'conv/linear MACs':>18} {'other MACs':>12} {'params':>12} {'rows':>5} {'count s':>8}")
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        model = build(name, args.meta)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            report = count_cost(model, args.size)
            times.append(time.perf_counter() - t0)
        t = report.totals
        flag = "" if not report.unsupported else f"  unsupported: {[u.op for u in report.unsupported]}"
        print(f"{name:<20} {t['conv_linear_macs'] / 1e6:>16.2f} M {t['other_macs'] / 1e6:>10.2f} M "
              f"{t['params'] / 1e6:>10.3f} M {t['layers']:>5} {statistics.median(times):>8.3f}{flag}")


if __name__ == "__main__":
    main()
