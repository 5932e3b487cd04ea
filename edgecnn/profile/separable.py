"""The separable check by the clock: depthwise + pointwise pair vs the
standard convolution it replaces, timed on each runtime, interleaved.

For each (M, N, Dk, Df_in, stride) the two candidates are built as small
modules (no BN/activation: only the convolutions the formula counts), made
into artifacts for each runtime (ONNX files; for LiteRT, ``.tflite`` files
written directly, NHWC as the converter lays them out, PAD + VALID where
PyTorch's symmetric padding differs from SAME: ``tflite_slice.conv_chain_model``)
and timed round-robin. ``measured_ratio`` = separable median
/ standard median, shown beside ``analytic_ratio`` = 1/N + 1/Dk^2 and the
counted MACs ratio.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from edgecnn.errors import EdgeCNNError
from edgecnn.records import Record, environment
from edgecnn.runtime import RUNNERS, RunnerUnsupported
from edgecnn.runtime.timing import TimingConfig, random_inputs

SEPARABLE_TIMING = TimingConfig(warmup=3, warmup_s=0.05, runs=10, min_time_s=0.15, max_time_s=3.0)


@dataclass(frozen=True)
class Shape:
    m: int
    n: int
    dk: int
    df_in: int
    stride: int = 1

    @property
    def key(self) -> str:
        return f"M={self.m},N={self.n},Dk={self.dk},Df={self.df_in},stride={self.stride}"


def parse_shape(text: str) -> Shape:
    """``"M,N,Dk,Df[,stride]"`` (Df: input side) -> Shape; one-line error otherwise."""
    from edgecnn.errors import InvalidOptionError

    try:
        vals = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        vals = []
    if len(vals) not in (4, 5) or min(vals) < 1:
        raise InvalidOptionError(f"--shape takes M,N,Dk,Df[,stride] as positive integers, got {text!r}")
    return Shape(*vals)


def build_pair(s: Shape):
    """(separable module, standard module) for a shape; bias-free, as counted."""
    from torch import nn

    pad = s.dk // 2
    sep = nn.Sequential(nn.Conv2d(s.m, s.m, s.dk, s.stride, pad, groups=s.m, bias=False),
                        nn.Conv2d(s.m, s.n, 1, bias=False))
    std = nn.Conv2d(s.m, s.n, s.dk, s.stride, pad, bias=False)
    return sep.eval(), std.eval()


def time_shapes(shapes: Sequence[Shape], runtimes: Sequence[str], *, threads: Optional[int] = None,
                config: TimingConfig = SEPARABLE_TIMING, progress: Optional[Callable[[str], None]] = None,
                device: str = "cpu", precision: str = "fp32", batch: int = 1, split: bool = False
                ) -> dict[tuple[str, str], dict[str, Any]]:
    """Time every shape on every runtime. Returns {(runtime, shape.key): result}
    where result has ``status`` ("ok"/"unsupported"/"failed"), ``error`` and, when
    ok, ``separable`` and ``standard`` LatencyStats, ``measured_ratio`` and
    ``latency_measure``. ``device`` ("cpu" or "cuda"), ``precision`` and
    ``batch`` go to the runners (the torch runner times fp16/bf16 and CUDA; the
    others refuse what they cannot do). On CUDA the torch runner's pair is
    timed on the device alone (CUDA events around the convolutions, the input
    resident: ``edgecnn.runtime.device_timing``), not with the copies of its
    input and output; ``split`` does the same on the CPU (the smoke run)."""
    import torch

    torch.manual_seed(0)
    uniq = list(dict.fromkeys(shapes))
    mods = {}
    in_shapes = {}
    for s in uniq:
        sep, std = build_pair(s)
        mods[f"{s.key}|sep"], mods[f"{s.key}|std"] = sep, std
        in_shapes[f"{s.key}|sep"] = in_shapes[f"{s.key}|std"] = (1, s.m, s.df_in, s.df_in)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for rt in runtimes:
        cls = RUNNERS.get(rt)
        # on the CPU each runner checks its own default device (TensorRT's is CUDA), as before
        reason = cls.unavailable_reason() if device == "cpu" else cls.unavailable_reason(device)
        if rt == "tensorrt" and not reason:
            reason = "the separable check builds no TensorRT engines (time them with trtexec on the device)"
        if reason:
            for s in uniq:
                out[(rt, s.key)] = {"status": "unsupported", "error": reason}
            continue
        with tempfile.TemporaryDirectory(prefix="edgecnn-sep-") as tmp:
            try:
                artifacts = _artifacts(rt, mods, in_shapes, Path(tmp))
            except RunnerUnsupported as exc:  # no way to make this runtime's small artifacts
                for s in uniq:
                    out[(rt, s.key)] = {"status": "unsupported", "error": str(exc)}
                continue
            except Exception as exc:  # export of the small modules failed: say so for each shape
                for s in uniq:
                    out[(rt, s.key)] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                continue
            for s in uniq:
                if progress:
                    progress(f"separable {s.key} on {rt}")
                where = dict(device=device, precision=precision)
                if rt == "torch":
                    where.update(split=split, input_shape=[batch, s.m, s.df_in, s.df_in])
                out[(rt, s.key)] = _time_pair(cls, rt, artifacts, s, threads, config, where, batch)
    return out


def _artifacts(rt: str, mods: dict, in_shapes: dict, tmp: Path) -> dict[str, Any]:
    from edgecnn.export.artifacts import export_modules

    if rt == "torch":
        return dict(mods)
    if rt in ("onnxruntime", "openvino"):  # OpenVINO reads the ONNX files itself (f32 unless told otherwise)
        return export_modules(mods, in_shapes, "onnx", tmp)
    if rt == "litert":  # written directly: a litert-torch conversion of the blocks took 25-40 s a model here
        from edgecnn.profile.tflite_slice import conv_chain_model

        out = {}
        for key, mod in mods.items():
            _, m, df, _ = in_shapes[key]
            convs = list(mod) if hasattr(mod, "__iter__") else [mod]
            layers = [{"kind": "dw" if c.groups == c.in_channels > 1 else "conv", "out": c.out_channels,
                       "k": c.kernel_size[0], "stride": c.stride[0], "pad": c.padding[0]} for c in convs]
            path = tmp / f"{len(out)}.tflite"
            path.write_bytes(conv_chain_model([1, df, df, m], layers))
            out[key] = path
        return out
    raise RunnerUnsupported(f"the separable check makes no isolated-block artifacts for {rt} "
                            "(it times torch, onnxruntime, openvino and litert)")


def _time_pair(cls, rt: str, artifacts: dict, s: Shape, threads: Optional[int], config: TimingConfig,
               where: Optional[dict] = None, batch: int = 1) -> dict:
    import copy

    from edgecnn.runtime.device_timing import time_split

    # only what differs from a runner's defaults, so runners without these options keep working
    kw = {k: v for k, v in (where or {}).items() if v != {"device": "cpu", "precision": "fp32", "split": False}.get(k)}
    runners = {}
    try:
        for which in ("sep", "std"):
            art = artifacts[f"{s.key}|{which}"]
            if isinstance(art, tuple):  # (tflite path, signature)
                runners[which] = cls(threads=threads, signature=art[1], **kw).load(art[0])
            else:  # a module is converted in place by the torch runner: give it a copy
                runners[which] = cls(threads=threads, **kw).load(copy.deepcopy(art) if rt == "torch" else art)
        shape = runners["sep"].input_shape  # LiteRT's blocks are NHWC, the others NCHW
        if not shape or len(shape) != 4 or any(d is None or d < 1 for d in shape[1:]):
            shape = [batch, s.m, s.df_in, s.df_in]
        xs = random_inputs([batch, *shape[1:]], count=2)
        split = time_split(runners, {k: xs for k in runners}, config=config, copy_config=None)
        stats = {k: v.compute for k, v in split.items()}
        measure = "device_compute" if split["sep"].phases is not None else (
            "end_to_end" if str(kw.get("device", "cpu")).startswith("cuda") else "host_call")
    except EdgeCNNError as exc:
        status = "unsupported" if isinstance(exc, RunnerUnsupported) else "failed"
        return {"status": status, "error": str(exc)}
    except Exception as exc:
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        for r in runners.values():
            r.close()
    sep, std = stats["sep"], stats["std"]
    return {"status": "ok", "error": None, "separable": sep, "standard": std,
            "measured_ratio": sep.median_ms / std.median_ms if std.median_ms > 0 else None,
            "threads": next(iter(runners.values())).threads, "latency_measure": measure}


def pair_bytes(s: Shape, precision: str, batch: int = 1) -> tuple[int, int]:
    """Bytes the separable pair and the standard convolution move for a batch:
    each convolution's input and output activations (per image) and its
    weights (once), at ``precision``'s element size; the depthwise output is
    written and read back by the pointwise conv (no fusion assumed)."""
    item = {"fp16": 2, "bf16": 2, "int8": 1}.get(precision, 4)
    do = (s.df_in + 2 * (s.dk // 2) - s.dk) // s.stride + 1
    x_in, mid, out = s.m * s.df_in ** 2, s.m * do * do, s.n * do * do
    sep = ((x_in + 2 * mid + out) * batch + s.m * s.dk * s.dk + s.m * s.n) * item
    std = ((x_in + out) * batch + s.m * s.n * s.dk * s.dk) * item
    return sep, std


def achieved(s: Shape, precision: str, batch: int, sep_ms: float, std_ms: float, macs_sep: int,
             macs_std: int) -> dict[str, Any]:
    """GMAC/s each side reached (counted MACs per image x batch / median) and
    the bytes each moves per batch."""
    sep_b, std_b = pair_bytes(s, precision, batch)
    out: dict[str, Any] = {"separable_bytes": sep_b, "standard_bytes": std_b,
                           "macs_separable": int(macs_sep), "macs_standard": int(macs_std)}
    if sep_ms > 0:
        out["separable_gmacs_per_s"] = macs_sep * batch / (sep_ms * 1e6)
    if std_ms > 0:
        out["standard_gmacs_per_s"] = macs_std * batch / (std_ms * 1e6)
    return out


def separable_records(model: str, pairs: Sequence[Any], results: dict, runtimes: Sequence[str], *,
                      device: str, input_shape: Optional[list[int]] = None, precision: str = "fp32",
                      batch: int = 1, accel: str = "cpu", isolation: Optional[str] = None) -> list[Record]:
    """One ``separable`` record per (pair, runtime); ``pairs`` are
    ``edgecnn.cost.SeparablePair`` (variant = depthwise layer name) or Shapes
    given on the command line (variant = the shape). A pair timed on a GPU
    (``accel="cuda"``) gets ``+cuda`` after its variant and ``accel`` in its metrics."""
    tag = "" if accel == "cpu" else f"+{accel}"
    from edgecnn.export.artifacts import runtime_format

    recs = []
    keys = [(p if isinstance(p, Shape) else Shape(p.m, p.n, p.dk, p.df_in, p.stride)).key for p in pairs]
    collapsed = []  # a runtime that cannot run any block here: one record for the model, not one per block
    for rt in runtimes:
        res = [results.get((rt, k), {}) for k in keys]
        if len(pairs) > 1 and all(r.get("status") == "unsupported" for r in res) and \
                len({r.get("error") for r in res}) == 1:
            collapsed.append(rt)
            recs.append(Record(kind="separable", model=model, status="unsupported", source="measured",
                               device=device, runtime=rt, format=runtime_format(rt), precision=precision,
                               batch=batch, input_shape=input_shape, variant=f"all {len(pairs)} blocks{tag}",
                               error=res[0]["error"], metrics={"blocks": len(pairs), "accel": accel},
                               env=environment()))
    runtimes = [rt for rt in runtimes if rt not in collapsed]
    for p in pairs:
        if isinstance(p, Shape):
            s, variant = p, p.key
            analytic = 1.0 / p.n + 1.0 / p.dk ** 2
            from edgecnn.cost import separable_layer_check

            pc = separable_layer_check(p.m, p.n, p.dk, p.df_in, p.stride)
            counted, macs = pc.counted_ratio, (pc.macs_separable, pc.macs_standard)
            extra = {}
        else:
            s = Shape(p.m, p.n, p.dk, p.df_in, p.stride)
            variant, analytic, counted = p.depthwise, p.analytic_ratio, p.counted_ratio
            macs = (p.macs_separable, p.macs_standard)
            extra = {"depthwise_layer": p.depthwise, "pointwise_layer": p.pointwise}
        for rt in runtimes:
            res = results.get((rt, s.key), {"status": "failed", "error": "not timed"})
            metrics: dict[str, Any] = {"m": s.m, "n": s.n, "dk": s.dk, "df_in": s.df_in, "stride": s.stride,
                                       "shape": s.key, "analytic_ratio": analytic, "counted_ratio": counted,
                                       "accel": accel, **extra}
            if res["status"] == "ok":
                sep, std = res["separable"], res["standard"]
                metrics.update({"measured_ratio": res["measured_ratio"], "separable_ms_p50": sep.median_ms,
                                "standard_ms_p50": std.median_ms, "separable_ms_p90": sep.p90_ms,
                                "standard_ms_p90": std.p90_ms, "runs": min(sep.runs, std.runs),
                                "noisy": sep.noisy or std.noisy, "threads": res["threads"],
                                "latency_measure": res.get("latency_measure", "host_call")})
                metrics.update(achieved(s, precision, batch, sep.median_ms, std.median_ms, *macs))
                if isolation:
                    metrics["isolation"] = isolation
            recs.append(Record(kind="separable", model=model, status=res["status"], source="measured",
                               device=device, runtime=rt, format=runtime_format(rt), precision=precision,
                               batch=batch, input_shape=input_shape, variant=variant + tag, error=res.get("error"),
                               metrics=metrics, env=environment({"threads": res.get("threads")})))
    return recs
