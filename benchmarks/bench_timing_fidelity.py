"""Does edgecnn time what a plain script sees? Ratio per model and runtime.

The plain side, in both designs: a plain script per runtime, each in a fresh
process of its own, on the *same artifact* with the *same threads*, using
only the runtime's own API: an ONNX Runtime session with default options but
``intra_op_num_threads``; a LiteRT ``Interpreter(num_threads=...)``; a torch
module in eval mode under ``torch.inference_mode`` after
``torch.set_num_threads``; an OpenVINO compiled model (threads, LATENCY hint,
f32 as edgecnn records); an ExecuTorch method after resizing XNNPACK's thread
pool; an NCNN net with ``opt.num_threads`` and fp16 storage/arithmetic off
(fp32, as edgecnn records; NCNN's default turns them on), one extractor per
call; an MNN session with ``numThread``, ``precision=high`` and the Winograd
hint the exporter wrote beside the artifact.

**Interleaved (the default).** For each of the default models and every
local runtime, for ``--rounds`` rounds, one model at a time: edgecnn's worker
of each runtime, started and loaded as ``profile`` does it (the same
``runner_kwargs``, the same ``RuntimeWorker``), and that runtime's plain
script take their turns in one rotation of edgecnn's own
``interleave_workers`` with profile's default timing, the pair side by side
(a plain script answers the rotation's "warmup" and "block" requests as a
worker does). A round's ratio is the median over its rotations of edgecnn's
block median over the plain script's block median in the same rotation: a
state change of the machine moves both blocks of a rotation alike and
cancels in their ratio, so every round judges (the log also keeps both
sides' p50 over all calls). It times edgecnn's workers, runner settings,
timing loop and statistics, not the ``profile`` command around them.

**``--sandwich``: the profile command end to end.** Each round a sandwich
B - A - B per model (models' order rotated every round):

- B: the plain scripts all load first; each warms up ``--warmup-s``; then
  they time calls in blocks of ``--block-s`` taken in turn, until each has
  ``--seconds`` of timed calls (the first call of a block dropped);
- A: ``edgecnn profile`` with its default settings (all local runtimes,
  isolated workers, default timing), per-layer and separable steps off, into a
  scratch records folder (the plain processes wait, idle, meanwhile);
- B again, the same processes.

The plain figure of a round is the median of both B sides' calls; ``B2/B1``
shows how far the reference moved. Only **stable rounds** judge: a round
counts for a runtime when its plain script read the same before and after
edgecnn's run, within ``--max-drift`` (10 %: B2/B1 in 1/1.1..1.1); the
others are counted as disturbed (``rounds``: stable / all). The rule looks at
the plain side only, so it cannot pick rounds by edgecnn's figure. On this
shared 2-core VM the machine's state changes within seconds (1.4-2.3x): a
switch inside edgecnn's run and back is invisible to the plain side, which
is why the sandwich leaves pairs undecided here (one sandwich per runtime,
about 7 s from one plain side to the other, tried at 388dcfd, still had 3
of its 35 stable rounds at 0.52-0.71) and why the default interleaves.

Printed: the CPU (model, instruction-set features, cores: the machine's
fingerprint) and, per (model, runtime), the ratio edgecnn / plain as the
geometric mean over the judging rounds with its 95 % confidence interval
(Student's t on the log ratios of the rounds), the spread (min-max of the
per-round ratios) and a verdict: "within 10 %" when the whole interval lies
in 0.90-1.10, "outside" when none of it does, "cannot tell" otherwise. A
model with a "cannot tell" (fewer than two judging rounds, or an interval
across a bound) gets more rounds, up to ``--max-rounds``, until its verdicts
are decided. The target (issues #14, #31): every ratio within +-10 %, on any
x86 CPU.

Every finished (round, model) is appended to ``--log`` (one JSON line: the
plain sides' and edgecnn's figures per runtime, when each phase started and
ended, the CPU's fingerprint), so an interrupted run loses at most the round
it was in: run the same command again and it goes on from the log (rounds of
another configuration, CPU or commit in the same file are ignored, and
``--fresh`` starts the file again). The table is computed from the log.

    .venv/bin/python benchmarks/bench_timing_fidelity.py            # 5 models, 5 rounds (up to 20 if undecided)
    .venv/bin/python benchmarks/bench_timing_fidelity.py --models mobilenet_v3_small --rounds 2
    .venv/bin/python benchmarks/bench_timing_fidelity.py --sandwich  # the profile command end to end
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "resnet18", "resnet50"]

PLAIN = r'''
import json, statistics, sys, time
runtime, artifact, threads, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
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
    # fp32 as edgecnn records by default (NCNN's own default turns fp16 storage and arithmetic on)
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
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
call()
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:  # "warm S" / "time S": run for S seconds; print the timed calls (ms)
    op, sec = line.split()
    samples, end = [], time.perf_counter() + float(sec)
    while time.perf_counter() < end:
        t0 = time.perf_counter(); call(); samples.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"samples": samples if op == "time" else [], "calls": len(samples)}), flush=True)
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


class Plain:
    """One runtime's plain script in its own process: loaded, then timing on request."""

    def __init__(self, runtime: str, path: str, threads: int, size: int, env: dict[str, str]) -> None:
        self.name = runtime
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, "-c", PLAIN, runtime, path, str(threads), str(size)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     env={**os.environ, **env})

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        while line and not line.startswith("{"):  # a library's chatter on stdout
            line = self.proc.stdout.readline()
        if not line:
            self.err.seek(0)
            raise SystemExit(f"plain {self.name} script failed:\n{self.err.read()[-2000:]}")
        return json.loads(line)

    def ready(self) -> None:
        self._reply()

    def run(self, op: str, seconds: float) -> list[float]:
        self.proc.stdin.write(f"{op} {seconds}\n")
        self.proc.stdin.flush()
        return self._reply()["samples"]

    def request(self, op: str, **args) -> object:
        """Answer as an edgecnn worker does (``edgecnn.runtime.workers``), so ``interleave_workers`` can give
        this script its turns: "warmup" runs for ``seconds`` and returns the calls made; "block" times calls
        for ``seconds`` and drops the first ``prewarm`` of them (edgecnn's worker makes those untimed)."""
        if op == "warmup":
            self.proc.stdin.write(f"warm {args['seconds']}\n")
            self.proc.stdin.flush()
            return self._reply()["calls"]
        if op == "block":
            return self.run("time", args["seconds"])[args["prewarm"]:]
        raise ValueError(f"a plain script answers warmup and block, not {op!r}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        self.err.close()


def plain_side(plains: dict[str, Plain], seconds: float, block_s: float, settle_s: float,
               start: int) -> dict[str, list[float]]:
    """Time every plain script in rotated blocks of ``block_s`` until each has ``seconds`` of timed calls.
    The first call of each block is dropped: after another runtime ran, its caches are cold (edgecnn drops
    that call too; a script timing without pause has no such call)."""
    names = list(plains)
    samples: dict[str, list[float]] = {k: [] for k in names}
    rnd = start
    while min(sum(v) for v in samples.values()) < seconds * 1e3:
        for k in names[rnd % len(names):] + names[:rnd % len(names)]:
            samples[k] += plains[k].run("time", block_s)[1:]
            time.sleep(settle_s)
        rnd += 1
    return samples


# two-sided 95 % Student t quantiles by degrees of freedom (1..30); beyond, the normal's 1.96
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
BAND = (0.90, 1.10)


def ratio_interval(rs: list[float]) -> tuple[float, float, float]:
    """(geometric mean, low, high): the 95 % interval of the mean log ratio; (r, 0, inf) for one round."""
    logs = [math.log(r) for r in rs]
    mean = statistics.fmean(logs)
    if len(logs) < 2:
        return math.exp(mean), 0.0, math.inf
    half = T975[min(len(logs) - 1, len(T975)) - 1] * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def verdict(low: float, high: float) -> str:
    if BAND[0] <= low and high <= BAND[1]:
        return "within 10 %"
    if high < BAND[0] or low > BAND[1]:
        return "outside"
    return "cannot tell"


def cpu_line() -> str:
    from edgecnn.machine import this_machine

    fp = this_machine()
    flags = fp.get("isa") or fp.get("features") or []
    return (f"CPU: {fp.get('cpu', '?')}; {fp.get('cores', '?')} cores; features {' '.join(flags) or '-'}; "
            f"fingerprint {fp.get('id', '?')}")


def load_log(path: Path, config: dict, fresh: bool, any_commit: bool = False) -> list[dict]:
    """The rows of ``path`` measured with ``config`` (an unreadable line is named and left out); with
    ``any_commit``, whatever commit measured them."""
    def key(c: dict) -> dict:
        return {k: v for k, v in c.items() if not (any_commit and k == "git_commit")}

    if fresh and path.exists():
        path.unlink()
    rows = []
    if path.exists():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                print(f"{path}:{n}: not a JSON line, left out", file=sys.stderr)
                continue
            if isinstance(row.get("config"), dict) and key(row["config"]) == key(config):
                rows.append(row)
    return rows


def append_row(path: Path, row: dict) -> None:
    """One line, flushed to disk before the next round starts (a crash mid-write leaves one bad last line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def stable(row_runtime: dict, max_drift: float) -> bool:
    """A round judges a runtime only if its plain script read the same before and after edgecnn's run, within
    ``max_drift`` (B2/B1 in 1/(1+d)..1+d): when the reference itself moved by more than the tolerance being
    tested, the machine changed state during the round, and the round cannot tell a 10 % difference. The rule
    looks at the plain side alone, so it cannot favour edgecnn's figure either way."""
    d = row_runtime["b2_ms"] / row_runtime["b1_ms"]
    return 1 / (1 + max_drift) <= d <= 1 + max_drift


def per_pair(rows: list[dict], max_drift: float = math.inf) -> dict[tuple[str, str], dict[str, list[float]]]:
    """Per (model, runtime): over its stable rounds, the ratios, edgecnn's and the plain figures; over all its
    rounds, the drift B2/B1 and how many there were."""
    out: dict[tuple[str, str], dict[str, list[float]]] = {}
    for row in rows:
        for rt, v in row["runtimes"].items():
            p = out.setdefault((row["model"], rt), {"ratios": [], "edgecnn": [], "plain": [], "drift": []})
            p["drift"].append(v["b2_ms"] / v["b1_ms"])
            # an interleaved round judges always: both sides took turns through every state of the machine
            if row["config"].get("interleaved") or stable(v, max_drift):
                p["ratios"].append(v.get("ratio", v["edgecnn_ms"] / v["plain_ms"]))  # interleaved: paired
                p["edgecnn"].append(v["edgecnn_ms"])
                p["plain"].append(v["plain_ms"])
    return out


def judged(ratios: list[float]) -> tuple[float, float, float, str]:
    """(ratio, low, high, verdict) of a pair's stable rounds; "cannot tell" with fewer than two."""
    if len(ratios) < 2:
        return (ratios[0] if ratios else math.nan), 0.0, math.inf, "cannot tell"
    gm, low, high = ratio_interval(ratios)
    return gm, low, high, verdict(low, high)


class Blocks:
    """An ``interleave_workers`` participant whose timed blocks are kept, in the order they were taken."""

    def __init__(self, inner) -> None:
        self.inner, self.blocks = inner, []

    def request(self, op: str, **args) -> object:
        value = self.inner.request(op, **args)
        if op == "block":
            self.blocks.append(value)
        return value

    def close(self) -> None:
        self.inner.close()


def paired_ratio(mine: list[list[float]], theirs: list[list[float]]) -> tuple[float, list[float]]:
    """The median over rotations of (edgecnn's block median / the plain script's block median of the same
    rotation), and those per-rotation ratios: a state change of the machine moves both blocks of a rotation
    alike, so it cancels in their ratio (only the rotation it falls in is off, and the median leaves it out)."""
    per = [statistics.median(a) / statistics.median(b) for a, b in zip(mine, theirs) if a and b]
    return statistics.median(per), per


def interleaved_round(m: str, rnd: int, arts: dict[tuple[str, str], tuple[str, int]], runtimes: list[str],
                      threads: int, env: dict[str, str]) -> dict:
    """One interleaved round (the default): edgecnn's worker of each runtime, started and loaded as ``profile``
    does it (``runner_kwargs`` of the default options), and the runtime's plain script take their turns in
    one ``interleave_workers`` rotation with profile's default timing, each pair side by side. The round's
    ratio is ``paired_ratio`` of their blocks; its log row also has both sides' p50 over all their calls
    (``compute_stats``, as a record's headline) and the plain script's halves as B1 and B2."""
    from edgecnn.profile.pipeline import ProfileOptions
    from edgecnn.profile.sessions import runner_kwargs
    from edgecnn.runtime.workers import RuntimeWorker, interleave_workers

    os.environ.update(env)  # the workers inherit this process's environment (the plain scripts get env too)
    opts = ProfileOptions(runtimes=runtimes)  # `edgecnn profile`'s defaults
    mine = {rt: v for (mm, rt), v in arts.items() if mm == m and rt in runtimes}
    t = {"start": time.time()}
    parts: dict[str, Blocks] = {}
    try:
        for rt, (path, size) in mine.items():
            parts[f"edgecnn:{rt}"] = Blocks(RuntimeWorker(rt, runner_kwargs(rt, opts, size)).start())
            parts[f"plain:{rt}"] = Blocks(Plain(rt, path, threads, size, env))
        for rt, (path, size) in mine.items():
            parts[f"edgecnn:{rt}"].request("load", artifact=path, batch=opts.batch, size=size, split=False)
            parts[f"plain:{rt}"].inner.ready()
        t["a"] = time.time()
        stats = interleave_workers(parts, opts.timing)
        t["end"] = time.time()
    finally:
        for p in parts.values():
            p.close()
    out = {}
    for rt in mine:
        plain = stats[f"plain:{rt}"].samples_ms
        half = len(plain) // 2
        ratio, per = paired_ratio(parts[f"edgecnn:{rt}"].blocks, parts[f"plain:{rt}"].blocks)
        out[rt] = {"ratio": ratio, "block_ratios": [round(r, 4) for r in per],
                   "edgecnn_ms": stats[f"edgecnn:{rt}"].median_ms, "plain_ms": stats[f"plain:{rt}"].median_ms,
                   "b1_ms": statistics.median(plain[:half] or plain), "b2_ms": statistics.median(plain[half:]),
                   "b1_n": half, "b2_n": len(plain) - half, "edgecnn_n": len(stats[f"edgecnn:{rt}"].samples_ms)}
    return {"round": rnd, "model": m, "t": t, "runtimes": out}


def measure_round(m: str, rnd: int, rotation: int, arts: dict[tuple[str, str], tuple[str, int]],
                  runtimes: list[str], export_dir: Path, tmp: Path, threads: int, env: dict[str, str],
                  args: argparse.Namespace) -> dict:
    """One plain - edgecnn - plain sandwich of model ``m``: its log row (without the config)."""
    mine = {k: v for k, v in arts.items() if k[0] == m}
    t = {"start": time.time()}
    plains = {rt: Plain(rt, path, threads, size, env) for (_, rt), (path, size) in mine.items()}
    try:
        for p in plains.values():  # all load at once, before anything is timed
            p.ready()
        for p in plains.values():
            p.run("warm", args.warmup_s)
        t["b1"] = time.time()
        b1 = plain_side(plains, args.seconds, args.block_s, args.settle_s, rotation)
        t["a"] = time.time()
        a = edgecnn_round([m], runtimes, export_dir, tmp / f"r{rnd}-{m}", args.in_process, env)
        t["b2"] = time.time()
        b2 = plain_side(plains, args.seconds, args.block_s, args.settle_s, rotation + 1)
        t["end"] = time.time()
    finally:
        for p in plains.values():
            p.close()
    return {"round": rnd, "model": m, "t": t, "runtimes": {
        rt: {"edgecnn_ms": a[(m, rt)], "b1_ms": statistics.median(b1[rt]), "b2_ms": statistics.median(b2[rt]),
             "plain_ms": statistics.median(b1[rt] + b2[rt]), "b1_n": len(b1[rt]), "b2_n": len(b2[rt])}
        for (_, rt) in mine}}


def print_table(pairs: dict[tuple[str, str], dict[str, list[float]]], args: argparse.Namespace,
                threads: int) -> None:
    """The verdict table of ``per_pair``'s pairs, and the count of each verdict."""
    how = "every runtime in one process (--in-process)" if args.in_process else "default settings (isolated workers)"
    who = "edgecnn's isolated workers" if args.interleaved else f"edgecnn profile, {how},"
    print(f"{who} vs a plain script per runtime, same artifact, {threads} threads, "
          + ("edgecnn's workers as profile starts them and the plain scripts taking turns block by block "
             "(interleave_workers, profile's default timing); every round judges"
             if args.interleaved else
             f"rounds of plain - edgecnn - plain; a round judges a runtime when its plain sides agree within "
             f"{args.max_drift:.0%}")
          + (f", env {' '.join(args.env)}" if args.env else ""))
    print(cpu_line())
    print(f"{'model':<20} {'runtime':<12} {'edgecnn ms':>10} {'plain ms':>9} {'ratio':>6} {'95% interval':>13} "
          f"{'spread':>13} {'rounds':>7} {'B2/B1':>6}  verdict")
    counts = {"within 10 %": 0, "outside": 0, "cannot tell": 0}
    worst = 0.0
    for (m, rt), p in sorted(pairs.items()):
        rs = p["ratios"]
        gm, low, high, v = judged(rs)
        counts[v] += 1
        if rs:
            worst = max(worst, abs(gm - 1))
        med = (lambda xs: f"{statistics.median(xs):.3f}" if xs else "-")
        print(f"{m:<20} {rt:<12} {med(p['edgecnn']):>10} {med(p['plain']):>9} {gm:>6.3f} {low:>6.3f}-{high:<6.3f} "
              f"{(min(rs) if rs else math.nan):>6.3f}-{(max(rs) if rs else math.nan):<6.3f} "
              f"{len(rs):>3}/{len(p['drift']):<3} {statistics.median(p['drift']):>6.3f}  {v}")
    print(f"{counts['within 10 %']} of {len(pairs)} within +-10 % with their interval, {counts['outside']} outside, "
          f"{counts['cannot tell']} cannot tell; largest |ratio - 1|: {worst:.3f} (target: every ratio within). "
          f"ratio: geometric mean over the stable rounds; interval: 95 %, Student's t on their log ratios; rounds: "
          + ("judging / all; a round's ratio: the median over its rotations of edgecnn's block median / the "
             "plain script's block median in the same rotation; B2/B1: the plain script's second half / first "
             "half of its calls (median over all rounds)" if args.interleaved else
             f"stable / all (a round with the plain script's B2/B1 outside "
             f"1/{1 + args.max_drift:g}..{1 + args.max_drift:g} is disturbed and does not judge). "
             f"B2/B1: the plain script after / before edgecnn (median over all rounds)"))


def option_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, before anything is exported or timed; None when nothing is."""
    if args.in_process and not args.sandwich:
        return "--in-process times the profile command's side of a sandwich: add --sandwich"
    if args.commit and not args.table_only:
        return "--commit picks the rows --table-only prints; it means nothing when measuring"
    if args.max_drift < 0:
        return f"--max-drift must be 0 or more (got {args.max_drift:g})"
    if args.log.is_dir():
        return f"--log {args.log} is a folder; give a file (e.g. {args.log / 'rounds.jsonl'})"
    if args.table_only and not args.log.is_file():
        return f"--table-only: no log at {args.log}"
    if not args.table_only and args.rounds < 1:
        return f"--rounds must be 1 or more (got {args.rounds})"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-rounds", type=int, default=None,
                    help="more rounds for a model while one of its ratios is \"cannot tell\" (default 4 x --rounds: "
                         "torch on mobilenet_v1 needed 12 on the AVX-512 VM)")
    ap.add_argument("--seconds", type=float, default=1.0,
                    help="--sandwich: timed seconds of each plain script before and again after edgecnn's run "
                         "(edgecnn's default minimum is 1 s)")
    ap.add_argument("--block-s", type=float, default=0.25,
                    help="--sandwich: seconds of one plain script's block of calls")
    ap.add_argument("--settle-s", type=float, default=0.02, help="--sandwich: pause between two plain scripts' blocks")
    ap.add_argument("--warmup-s", type=float, default=0.5)
    ap.add_argument("--runtimes", default="", help="the runtimes compared, comma-separated (default: every local "
                    "runtime that runs here); edgecnn's side still times all of them, as its default does")
    ap.add_argument("--edgecnn-runtimes-too", action="store_true",
                    help="--sandwich: give --runtimes to edgecnn's side as well (fewer runtimes in its rotation)")
    ap.add_argument("--sandwich", action="store_true",
                    help="time the `edgecnn profile` command end to end, in plain - edgecnn - plain sandwiches, "
                         "instead of edgecnn's workers and the plain scripts block by block in one rotation")
    ap.add_argument("--in-process", action="store_true",
                    help="--sandwich: time edgecnn's side the first-wave way: every runtime in one process (to see "
                         "the cause)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="set in both sides' environment, e.g. OMP_WAIT_POLICY=PASSIVE (repeatable)")
    ap.add_argument("--log", type=Path, default=REPO / "benchmarks" / "results" / "fidelity" / "rounds.jsonl",
                    help="the per-round log this run appends to and resumes from")
    ap.add_argument("--fresh", action="store_true", help="start --log again instead of resuming from it")
    ap.add_argument("--max-drift", type=float, default=0.10,
                    help="--sandwich: a round judges a runtime only when its plain script's two sides agree within "
                         "this (B2/B1 in 1/(1+d)..1+d); the others are counted as disturbed and more rounds are run")
    ap.add_argument("--table-only", action="store_true",
                    help="measure nothing: the table of --log's rows of this configuration, from any commit")
    ap.add_argument("--commit", default="", help="with --table-only: only the rows measured at this commit "
                    "(a prefix of its hash)")
    args = ap.parse_args()
    args.interleaved = not args.sandwich
    bad = option_error(args)
    if bad:
        print(f"error: {bad}", file=sys.stderr)
        raise SystemExit(2)
    env = dict(e.split("=", 1) for e in args.env)
    from edgecnn.devices.spec import device_files, read_device_file
    from edgecnn.errors import EdgeCNNError
    from edgecnn.machine import this_machine
    from edgecnn.records import git_commit
    from edgecnn.runtime import RUNNERS, default_threads

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:  # an unknown model is one error line before anything is exported or timed
        from edgecnn.models.names import model_names

        for m in models:
            model_names().get(m)  # suggests the closest zoo names
    except EdgeCNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    threads = default_threads()
    # every local runtime that runs here (the default `edgecnn profile` times these)
    local = [rt for rt in read_device_file(device_files()["local"], detect=False).runtimes
             if rt in RUNNERS and RUNNERS.get(rt).unavailable_reason() is None]
    compared = [r.strip() for r in args.runtimes.split(",") if r.strip()] or local
    # edgecnn's side always times every local runtime, as its default does (how many runtimes share the
    # rotation changes how long each one waits between its blocks); --runtimes picks the plain scripts
    runtimes = compared if args.edgecnn_runtimes_too or args.interleaved else local
    config = {"models": models, "compared": compared, "edgecnn_runtimes": runtimes, "threads": threads,
              "in_process": args.in_process, "env": env, "seconds": args.seconds, "block_s": args.block_s,
              "settle_s": args.settle_s, "warmup_s": args.warmup_s, "machine": str(this_machine().get("id", "?")),
              "git_commit": git_commit()}
    if args.interleaved:  # only then, so the sandwich rows of logs written before it existed keep their key
        config["interleaved"] = True
    rows = load_log(args.log, config, fresh=args.fresh and not args.table_only, any_commit=args.table_only)
    max_rounds = max(args.rounds, args.max_rounds if args.max_rounds is not None else 4 * args.rounds)
    if args.table_only:
        max_rounds = 0  # nothing measured
        rows = [r for r in rows if (r["config"]["git_commit"] or "").startswith(args.commit)]
        commits = sorted({r["config"]["git_commit"] or "?" for r in rows})
        print(f"{len(rows)} (round, model) rows of {args.log}, measured at commit {', '.join(commits) or '-'}",
              file=sys.stderr)
    elif rows:
        print(f"resuming from {args.log}: {len(rows)} (round, model) already measured", file=sys.stderr)

    def todo(rnd: int) -> list[str]:
        """The models still to measure in round ``rnd``: every model in the first --rounds, then the ones with a
        ratio that cannot be told yet."""
        left = [m for m in models if sum(r["model"] == m for r in rows) <= rnd]
        if rnd < args.rounds:
            return left
        pairs = per_pair(rows, args.max_drift)
        return [m for m in left if any(judged(p["ratios"])[3] == "cannot tell"
                                       for (mm, _), p in pairs.items() if mm == m)]

    with tempfile.TemporaryDirectory(prefix="edgecnn-fidelity-") as tmp:
        export_dir = Path(tmp) / "export"
        arts: dict[tuple[str, str], tuple[str, int]] = {}
        for rnd in range(max_rounds):
            ms = todo(rnd)
            if not ms:
                continue
            # the models' order rotates every round: this VM has a state change about every 5 minutes (about
            # one round), which in a fixed order hit the first model of every round (its two plain sides 1.3x
            # apart in each of 4 rounds); rotated, it falls on a different model each round
            ms = ms[rnd % len(ms):] + ms[:rnd % len(ms)]
            if not arts:  # one model build each, only when something is left to time
                made = artifacts(models, list(dict.fromkeys(compared + runtimes)), export_dir)
                arts = {k: v for k, v in made.items() if k[1] in compared}
            for i, m in enumerate(ms):
                row = {"config": config,
                       **(interleaved_round(m, rnd, arts, runtimes, threads, env) if args.interleaved else
                          measure_round(m, rnd, rnd + i, arts, runtimes, export_dir, Path(tmp), threads, env, args))}
                append_row(args.log, row)
                rows.append(row)
                print(f"round {rnd + 1} {m} done" + (" (more: a ratio could not be told)" if rnd >= args.rounds
                                                     else ""), file=sys.stderr, flush=True)
    print_table(per_pair(rows, args.max_drift), args, threads)


if __name__ == "__main__":
    main()
