"""Does `edgecnn profile` report what a plain script sees? Ratio per model and runtime.

For each of the default models and every local runtime, alternating A/B for
``--rounds`` rounds, one model at a time (its A and its B back to back, the
order alternating between models and rounds, so that machine drift between
the two sides is a matter of seconds, not of the whole run):

- A: ``edgecnn profile`` with its default settings (all local runtimes,
  isolated workers, default timing), per-layer and separable steps off, into a
  scratch records folder;
- B: a plain script per runtime, in a fresh process, on the *same artifact*
  with the *same threads*, using only the runtime's own API: an ONNX Runtime
  session with default options but ``intra_op_num_threads``; a LiteRT
  ``Interpreter(num_threads=...)``; a torch module in eval mode under
  ``torch.inference_mode`` after ``torch.set_num_threads``; an OpenVINO
  compiled model (threads, LATENCY hint, f32 as edgecnn records); an
  ExecuTorch method after resizing XNNPACK's thread pool; an NCNN net with
  ``opt.num_threads``, one extractor per call; an MNN session with
  ``numThread``, ``precision=high`` and the Winograd hint the exporter wrote
  beside the artifact. It warms up for
  ``--warmup-s`` and times calls for ``--seconds``, and prints the median.

Printed: per (model, runtime) the median over rounds of edgecnn's p50 /
the plain script's median, and the spread (min-max of the per-round ratios).
The target (issue #14): every ratio within +-10 %.

    .venv/bin/python benchmarks/bench_timing_fidelity.py            # 5 models, 3 rounds (23 min here)
    .venv/bin/python benchmarks/bench_timing_fidelity.py --models mobilenet_v3_small --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "resnet18", "resnet50"]

PLAIN = r'''
import json, statistics, sys, time
runtime, artifact, threads, size, warmup_s, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
import numpy as np
x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
if runtime == "onnxruntime":
    import onnxruntime as ort
    so = ort.SessionOptions(); so.intra_op_num_threads = threads
    sess = ort.InferenceSession(artifact, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    call = lambda: sess.run(None, {name: x})
elif runtime == "litert":
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=artifact, num_threads=threads); it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    def call():
        it.set_tensor(i, x); it.invoke(); return it.get_tensor(o)
elif runtime == "openvino":
    import openvino as ov
    core = ov.Core()  # f32 as edgecnn records by default (OpenVINO's own default is bf16 on bf16 CPUs)
    req = core.compile_model(core.read_model(artifact), "CPU", {"INFERENCE_NUM_THREADS": threads,
                             "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}).create_infer_request()
    def call():
        req.infer({0: x}); return req.get_output_tensor(0).data
elif runtime == "executorch":
    import torch
    from executorch.runtime import Runtime
    from executorch.extension.pybindings import portable_lib as lib
    lib._unsafe_reset_threadpool(threads)
    method = Runtime.get().load_program(artifact).load_method("forward")
    t = torch.from_numpy(x)
    call = lambda: method.execute([t])
elif runtime == "ncnn":
    import ncnn
    net = ncnn.Net(); net.opt.num_threads = threads; net.opt.use_vulkan_compute = False
    net.load_param(artifact); net.load_model(artifact[: -len(".param")] + ".bin")
    iname, oname, img = net.input_names()[0], net.output_names()[0], np.ascontiguousarray(x[0])
    def call():
        ex = net.create_extractor(); ex.input(iname, ncnn.Mat(img)); return ex.extract(oname)[1]
elif runtime == "mnn":
    import MNN, os
    meta = json.load(open(artifact + ".json")) if os.path.exists(artifact + ".json") else {}
    interp = MNN.Interpreter(artifact)
    level = (meta.get("runtime_settings") or {}).get("winograd_memory_level")  # the exporter's session hint
    if level is not None:
        interp.setSessionHint(3, int(level))
    sess = interp.createSession({"backend": "CPU", "precision": "high", "numThread": threads})
    inp, outp = interp.getSessionInput(sess), interp.getSessionOutput(sess)
    host = MNN.Tensor(x.shape, MNN.Halide_Type_Float, x, MNN.Tensor_DimensionType_Caffe)
    def call():
        inp.copyFrom(host); interp.runSession(sess); return outp.getNumpyData()
else:
    import torch
    torch.set_num_threads(threads)
    model = torch.load(artifact, weights_only=False).eval()
    t = torch.from_numpy(x)
    def call():
        with torch.inference_mode():
            return model(t)
end = time.perf_counter() + warmup_s
while time.perf_counter() < end:
    call()
samples, end = [], time.perf_counter() + seconds
while time.perf_counter() < end or len(samples) < 20:
    t0 = time.perf_counter(); call(); samples.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"median_ms": statistics.median(samples), "runs": len(samples)}))
'''


def artifacts(models: list[str], runtimes: list[str], export_dir: Path) -> dict[tuple[str, str], tuple[str, int]]:
    """(model, runtime) -> (artifact path, input side): the files `edgecnn profile` times
    (it reuses these), and a pickled torch module for the torch runner."""
    import torch

    from edgecnn.models import create_model, get_card
    from edgecnn.export.artifacts import get_artifact, runtime_format

    out = {}
    for m in models:
        size = int(get_card(m).input_size)
        model = create_model(m, input_size=size).eval()
        for rt in runtimes:
            fmt = runtime_format(rt)
            if rt != "torch":
                out[(m, rt)] = (str(get_artifact(m, model, fmt, input_size=size, export_dir=export_dir)), size)
        if "torch" in runtimes:
            pt = export_dir / f"{m}-{size}-torch.pt"
            torch.save(model, pt)
            out[(m, "torch")] = (str(pt), size)
    return out


def edgecnn_round(models: list[str], runtimes: list[str], export_dir: Path, work: Path, in_process: bool,
                  env: dict[str, str]) -> dict[tuple[str, str], float]:
    out = work / "profiles"
    cmd = [sys.executable, "-m", "edgecnn.cli", "profile", "--models", ",".join(models), "--runtimes",
           ",".join(runtimes), "--no-layers", "--no-separable", "--force", "--out", str(out), "--export-dir",
           str(export_dir), "--no-report", "--json"] + (["--in-process"] if in_process else [])
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=3600, env={**os.environ, **env})
    if res.returncode != 0:
        raise SystemExit(f"edgecnn profile failed:\n{res.stderr[-2000:]}")
    return {(r["model"], r["runtime"]): r["latency_ms_p50"] for r in json.loads(res.stdout)
            if r["kind"] == "latency" and r["status"] == "ok"}


def plain_round(arts: dict, threads: int, warmup_s: float, seconds: float,
                env: dict[str, str]) -> dict[tuple[str, str], float]:
    out = {}
    for (m, rt), (path, size) in arts.items():
        res = subprocess.run([sys.executable, "-c", PLAIN, rt, path, str(threads), str(size), str(warmup_s),
                              str(seconds)], capture_output=True, text=True, timeout=600, env={**os.environ, **env})
        if res.returncode != 0:
            raise SystemExit(f"plain {rt} script failed on {m}:\n{res.stderr[-2000:]}")
        out[(m, rt)] = json.loads(res.stdout.strip().splitlines()[-1])["median_ms"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds of each plain script")
    ap.add_argument("--warmup-s", type=float, default=0.5)
    ap.add_argument("--runtimes", default="", help="comma-separated (default: every local runtime that runs here)")
    ap.add_argument("--in-process", action="store_true",
                    help="time edgecnn's side the first-wave way: every runtime in one process (to see the cause)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="set in both sides' environment, e.g. OMP_WAIT_POLICY=PASSIVE (repeatable)")
    args = ap.parse_args()
    env = dict(e.split("=", 1) for e in args.env)
    from edgecnn.devices.spec import device_files, read_device_file
    from edgecnn.runtime import RUNNERS, default_threads

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    threads = default_threads()
    # every local runtime that runs here (the default `edgecnn profile` times these)
    runtimes = ([r.strip() for r in args.runtimes.split(",") if r.strip()] or
                [rt for rt in read_device_file(device_files()["local"], detect=False).runtimes
                 if rt in RUNNERS and RUNNERS.get(rt).unavailable_reason() is None])
    with tempfile.TemporaryDirectory(prefix="edgecnn-fidelity-") as tmp:
        export_dir = Path(tmp) / "export"
        arts = artifacts(models, runtimes, export_dir)
        ratios: dict[tuple[str, str], list[float]] = {k: [] for k in arts}
        a_ms: dict[tuple[str, str], list[float]] = {k: [] for k in arts}
        b_ms: dict[tuple[str, str], list[float]] = {k: [] for k in arts}
        for rnd in range(args.rounds):
            for i, m in enumerate(models):  # A and B of one model back to back: drift between them is seconds
                order = ("A", "B") if (rnd + i) % 2 == 0 else ("B", "A")  # alternate which goes first
                mine = {k: v for k, v in arts.items() if k[0] == m}
                got = {}
                for which in order:
                    got[which] = (edgecnn_round([m], runtimes, export_dir, Path(tmp) / f"r{rnd}-{m}", args.in_process,
                                                env)
                                  if which == "A" else plain_round(mine, threads, args.warmup_s, args.seconds, env))
                for k in mine:
                    a, b = got["A"][k], got["B"][k]
                    a_ms[k].append(a)
                    b_ms[k].append(b)
                    ratios[k].append(a / b)
                print(f"round {rnd + 1}/{args.rounds} {m} done ({' then '.join(order)})", file=sys.stderr, flush=True)
    how = "every runtime in one process (--in-process)" if args.in_process else "default settings (isolated workers)"
    print(f"edgecnn profile, {how}, vs a plain script per runtime, same artifact, {threads} threads, "
          f"{args.rounds} alternated rounds" + (f", env {' '.join(args.env)}" if args.env else ""))
    print(f"{'model':<20} {'runtime':<12} {'edgecnn ms':>10} {'plain ms':>9} {'ratio':>6} {'spread':>13}  "
          f"{'within 10%?':>11}")
    worst = 0.0
    for (m, rt), rs in sorted(ratios.items()):
        med = statistics.median(rs)
        worst = max(worst, abs(med - 1))
        print(f"{m:<20} {rt:<12} {statistics.median(a_ms[(m, rt)]):>10.3f} {statistics.median(b_ms[(m, rt)]):>9.3f} "
              f"{med:>6.3f} {min(rs):>6.3f}-{max(rs):<6.3f}  {'yes' if abs(med - 1) <= 0.10 else 'NO':>11}")
    print(f"largest |ratio - 1|: {worst:.3f} (target <= 0.10)")


if __name__ == "__main__":
    main()
