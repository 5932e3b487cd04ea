"""Which zoo models does default post-training quantisation hurt? A screen on CIFAR-10.

    .venv/bin/python benchmarks/bench_ptq_screen.py
        [--models shufflenet_v2_x0_5,mobilenet_v1_025,mobilenet_v2_050,squeezenet1_1]
        [--time-budget 8m] [--train-args="--lr 0.1"] [--formats onnx,tflite] [--n-images 2000]
        [--work benchmarks/results/ptq-screen]

For each model, as a user runs it: ``edgecnn train MODEL --input-size 32
--time-budget B --lr 0.1`` on the CIFAR-10 archive (the default recipe's peak
learning rate, 0.4 at its batch of 512, did not train shufflenet_v2_x0_5 in
a short run here: loss 2.56 after its first epoch) (the run folder is kept and
reused: a rerun trains nothing that finished, and resumes one that was
stopped), then ``edgecnn export MODEL --checkpoint RUN/last.pt --to FORMATS
--precision int8 --no-speedup`` with the default method of each format, and
prints per model and format the PyTorch top-1 and the INT8 top-1 on the
same ``--n-images`` test images and the drop in points (the export
record's ``top1_reference``, ``top1``, ``top1_drop``). A drop is a paired
difference on the same images, so it is far less noisy than either
top-1; still, with 2,000 images a drop under ~0.3 points is noise.

A short budget gives models that are not trained to the end: the screen
says which architecture PTQ hurts on this CPU at equal training time, not
what the fully trained model loses (``docs/export.md`` has both for the one
it picks). Records go to ``WORK/profiles`` (kept out of ``profiles/``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = "shufflenet_v2_x0_5,mobilenet_v1_025,mobilenet_v2_050,squeezenet1_1"


def edgecnn(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("edgecnn")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def train(model: str, run: Path, budget: str, threads: int, extra: list[str]) -> tuple[float, str]:
    """Train (or resume, or reuse) ``model`` into ``run``; (seconds, note)."""
    if (run / "last.pt").exists() and (run / "done").exists():
        return 0.0, "reused"
    t0 = time.perf_counter()
    args = ["train", model, "--input-size", "32", "--time-budget", budget, "--threads", str(threads),
            "--out", str(run), "--profiles", str(run.parent / "profiles"), *extra]
    if (run / "last.pt").exists():
        args.append("--resume")
    p = edgecnn(*args)
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:]
        return time.perf_counter() - t0, f"train failed: {' '.join(tail)}"
    (run / "done").write_text("ok\n")
    return time.perf_counter() - t0, "trained"


def export(model: str, run: Path, formats: str, n_images: int, out: Path) -> list[dict]:
    p = edgecnn("export", model, "--checkpoint", str(run / "last.pt"), "--to", formats, "--precision", "int8",
                "--n-images", str(n_images), "--no-speedup", "--jobs", "1", "--out", str(out),
                "--profiles", str(run.parent / "profiles"), "--json")
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:]
        return [{"format": f, "status": "failed", "error": " ".join(tail)} for f in formats.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--time-budget", default="8m")
    ap.add_argument("--train-args", default="--lr 0.1", help="more options for edgecnn train (one string)")
    ap.add_argument("--formats", default="onnx,tflite")
    ap.add_argument("--n-images", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "results" / "ptq-screen"))
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"PTQ screen: train --time-budget {args.time_budget} {args.train_args} at 32 px, then the default INT8 "
          f"export per format; top-1 on {args.n_images} CIFAR-10 test images (points)", flush=True)
    print(f"{'model':<22} {'train s':>8} {'format':<8} {'method':<16} {'PyTorch':>8} {'INT8':>8} {'drop':>6}  status",
          flush=True)
    for model in [m for m in args.models.split(",") if m]:
        run = work / model
        secs, note = train(model, run, args.time_budget, args.threads, args.train_args.split())
        if not (run / "last.pt").exists():
            print(f"{model:<22} {secs:>8.0f} {'-':<8} {'-':<16} {'-':>8} {'-':>8} {'-':>6}  {note}", flush=True)
            continue
        for r in export(model, run, args.formats, args.n_images, work / "export" / model):
            def num(k: str) -> str:
                v = r.get(k)
                return f"{v:.2f}" if isinstance(v, (int, float)) else "-"
            status = r.get("status", "?") + (f" ({r['error']})" if r.get("error") else "")
            print(f"{model:<22} {secs:>8.0f} {r.get('format', '?'):<8} {str(r.get('quant_method') or '-'):<16} "
                  f"{num('top1_reference'):>8} {num('top1'):>8} {num('top1_drop'):>6}  {status}", flush=True)


if __name__ == "__main__":
    main()
