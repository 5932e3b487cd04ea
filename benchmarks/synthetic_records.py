"""Synthetic records of every kind, for the report's benchmark and demo screenshots.

Not part of the installed package: nothing a user runs needs made-up figures.
The report's tests use records the real commands write (tests/report/).

The figures are plausible (published MACs/params/top-1 of the ImageNet models,
latencies close to those measured on a 2-core x86 laptop CPU, a roofline
prediction for a Jetson) but they are *made up*: every record carries
``env.synthetic = True`` and the host ``synthetic``, and the report says so
in its header. Never mix them with real profiles.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from edgecnn.records import Record, RecordStore

ENV = {"host": "synthetic", "git_commit": "0000000synth", "synthetic": True, "cpu": "synthetic CPU",
       "python": "3.11", "versions": {"edgecnn": "0.1.0", "torch": "2.14.1", "onnxruntime": "1.23.0"}}

# name: (MACs, params, pytorch fp32 top-1 % or None, family of layers)
MODELS = {
    "mobilenet_v1": (569e6, 4.23e6, 70.6, "separable"),
    "mobilenet_v2": (300e6, 3.50e6, 71.9, "separable"),
    "mobilenet_v3_small": (56e6, 2.54e6, 67.7, "separable"),
    "efficientnet_b0": (386e6, 5.29e6, 77.7, "separable"),
    "squeezenet1_1": (349e6, 1.24e6, 58.2, "dense"),
    "resnet18": (1814e6, 11.69e6, 69.8, "dense"),
    "resnet50": (4089e6, 25.56e6, 76.1, "dense"),
    "lenet5": (0.42e6, 0.062e6, None, "dense"),  # no accuracy record: must show as missing
}
# achieved GMAC/s on the laptop CPU per runtime: dense models run far faster
RATE = {("torch", "dense"): 45.0, ("torch", "separable"): 18.0,
        ("onnxruntime", "dense"): 70.0, ("onnxruntime", "separable"): 55.0,
        ("litert", "dense"): 65.0, ("litert", "separable"): 60.0}
JETSON_PEAK = {"fp32_gmacs_per_s": 320.0, "fp16_gmacs_per_s": 640.0, "int8_gmacs_per_s": 1280.0,
               "memory_bandwidth_gb_per_s": 68.0}
LOCAL_PEAK = {"fp32_gmacs_per_s": 115.2, "fp16_gmacs_per_s": 115.2, "int8_gmacs_per_s": 230.4,
              "memory_bandwidth_gb_per_s": 25.6}


def _shape(model: str) -> list[int]:
    return [1, 32, 32] if model == "lenet5" else [3, 224, 224]


def _rec(**kw) -> Record:
    kw.setdefault("env", dict(ENV))
    kw.setdefault("input_shape", _shape(kw["model"]))
    kw.setdefault("created_at", "2026-11-23T05:00:00+00:00")
    return Record(**kw)


def _layers(model: str, macs: float, family: str) -> list[dict]:
    """Per-layer rows (MACs, params, bytes at fp32, intensity) summing to ``macs``."""
    rows = []
    if family == "separable":
        spec = [("stem", "Conv2d", 3, 32, 3, 112, 1)]
        m, df = 32, 112
        for i, (n, s) in enumerate([(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
                                    (512, 1), (1024, 2), (1024, 1)]):
            df = df // s
            spec.append((f"blocks.{i}.dw", "Conv2d(depthwise)", m, m, 3, df, m))
            spec.append((f"blocks.{i}.pw", "Conv2d(pointwise)", m, n, 1, df, 1))
            m = n
        spec.append(("classifier", "Linear", 1024, 1000, 1, 1, 1))
    else:
        spec = [("conv1", "Conv2d", 3, 64, 7, 112, 1)]
        for i, (c, df) in enumerate([(64, 56), (128, 28), (256, 14), (512, 7)]):
            spec += [(f"layer{i + 1}.0.conv1", "Conv2d", c, c, 3, df, 1), (f"layer{i + 1}.0.conv2", "Conv2d", c, c, 3, df, 1)]
        spec.append(("fc", "Linear", 512, 1000, 1, 1, 1))
    raw = []
    for name, typ, cin, cout, k, df, groups in spec:
        weights = k * k * cin * cout // groups
        lm = weights * df * df
        nbytes = 4 * (cin * df * df + cout * df * df + weights)
        raw.append((name, typ, lm, weights, nbytes))
    scale = macs / sum(r[2] for r in raw)
    for name, typ, lm, w, nbytes in raw:
        lm_s = lm * scale
        rows.append(dict(name=name, type=typ, macs=int(lm_s), params=int(w), bytes_read=int(nbytes * 0.7),
                         bytes_written=int(nbytes * 0.3), arithmetic_intensity=lm_s / nbytes))
    return rows


def synthetic_records(n: int | None = None, seed: int = 0) -> list[Record]:
    """A realistic set of records of every kind; with ``n``, padded to ``n``
    records with more latency batches and standalone separable layers."""
    rng = random.Random(seed)
    out: list[Record] = []
    for model, (macs, params, top1, fam) in MODELS.items():
        layers = _layers(model, macs, fam)
        out.append(_rec(kind="cost", model=model, source="analytic",
                        metrics=dict(macs=int(macs), other_macs=int(macs * 0.01), params=int(params),
                                     bytes_read=sum(l["bytes_read"] for l in layers),
                                     bytes_written=sum(l["bytes_written"] for l in layers), layers=layers)))
        if top1 is not None:
            ds = "imagenet"
            out.append(_rec(kind="accuracy", model=model, format="pytorch", dataset=ds,
                            metrics=dict(top1=top1, top5=min(99.0, top1 + 20), loss=1.2)))
            out.append(_rec(kind="accuracy", model=model, format="onnx", dataset=ds,
                            metrics=dict(top1=top1 - 0.02, top5=90.0, loss=1.2)))
            if model != "mobilenet_v3_small":  # int8 accuracy missing: falls back to pytorch fp32
                drop = 2.5 if fam == "separable" else 0.6
                out.append(_rec(kind="accuracy", model=model, format="onnx", precision="int8", dataset=ds,
                                metrics=dict(top1=top1 - drop, top5=88.0, loss=1.3)))
        for runtime, fmt, prec in (("torch", "pytorch", "fp32"), ("onnxruntime", "onnx", "fp32"),
                                   ("onnxruntime", "onnx", "int8"), ("litert", "tflite", "fp32")):
            rate = RATE[(runtime, fam)] * (1.5 if prec == "int8" else 1.0) * rng.uniform(0.9, 1.1)
            lat = max(0.05, macs / (rate * 1e9) * 1e3)
            out.append(_latency(model, "local", runtime, fmt, prec, lat, macs, params, rng, "measured"))
        pred = max(macs / (JETSON_PEAK["fp16_gmacs_per_s"] * 0.35e9) * 1e3, 0.02)
        out.append(_latency(model, "jetson-orin-nano", "tensorrt", "tensorrt", "fp16", pred, macs, params, rng,
                            "predicted"))
        # per-layer times: depthwise layers are memory-bound and slow
        timed = []
        for layer in layers:
            nbytes = layer["bytes_read"] + layer["bytes_written"]
            t = max(layer["macs"] / (LOCAL_PEAK["fp32_gmacs_per_s"] * 1e9 * 0.6),
                    nbytes / (LOCAL_PEAK["memory_bandwidth_gb_per_s"] * 1e9 * 0.5)) * 1e3
            if "depthwise" in layer["type"]:
                t *= 3.0
            timed.append(dict(name=layer["name"], type=layer["type"], macs=layer["macs"], bytes=nbytes,
                              arithmetic_intensity=layer["arithmetic_intensity"], time_ms=t))
        total = sum(l["time_ms"] for l in timed)
        for l in timed:
            l["share"] = l["time_ms"] / total
        out.append(_rec(kind="layer_latency", model=model, runtime="onnxruntime", format="onnx",
                        metrics=dict(layers=timed)))
        for fmt, prec in (("onnx", "fp32"), ("onnx", "int8"), ("tflite", "fp32"), ("tflite", "int8")):
            out.append(_export(model, fmt, prec, top1, rng))
    out += _separable(rng)
    out += _training()
    extra = 0
    while n is not None and len(out) < n:
        model = rng.choice(list(MODELS))
        macs, params, _, fam = MODELS[model]
        batch = 2 ** (1 + extra % 6)
        lat = macs * batch / (RATE[("onnxruntime", fam)] * 1.3e9) * 1e3
        out.append(_latency(model, "local", "onnxruntime", "onnx", "fp32", lat, macs, params, rng, "measured",
                            batch=batch, created=f"2026-11-23T05:{extra % 60:02d}:00+00:00"))
        if len(out) < n:
            mm = 2 ** rng.randint(4, 10)
            out += _sep_layer(mm, mm, 3, 14, "onnxruntime", rng, extra)
        extra += 1
    return out[:n] if n is not None else out


def _latency(model, device, runtime, fmt, prec, lat, macs, params, rng, source, batch=1,
             created="2026-11-23T05:00:00+00:00") -> Record:
    std = lat * rng.uniform(0.02, 0.15)
    metrics = dict(latency_ms_p50=lat, latency_ms_p90=lat + 1.3 * std, latency_ms_p99=lat + 2.5 * std,
                   latency_ms_mean=lat + 0.2 * std, latency_ms_std=std, latency_ms_min=lat - std,
                   runs=100, threads=2, noisy=std / lat > 0.1, macs=int(macs),
                   achieved_gmacs_per_s=macs * batch / (lat / 1e3) / 1e9, memory_added_mb=params * 4 / 2**20 * 1.5,
                   memory_peak_mb=80 + params * 4 / 2**20 * 1.5, artifact_bytes=int(params * 4))
    if source == "predicted":
        metrics = dict(latency_ms_p50=lat, macs=int(macs), achieved_gmacs_per_s=macs / (lat / 1e3) / 1e9,
                       predicted=True, prediction_reason="synthetic", compute_unit="gpu")
    return _rec(kind="latency", model=model, device=device, runtime=runtime, format=fmt, precision=prec,
                batch=batch, source=source, metrics=metrics, created_at=created)


def _export(model, fmt, prec, top1, rng) -> Record:
    if model == "efficientnet_b0" and fmt == "tflite" and prec == "int8":
        return _rec(kind="export", model=model, format=fmt, precision=prec, status="export_failed",
                    error="litert-torch: unsupported op aten::silu_ in quantized graph", metrics=dict(export_s=4.2))
    ok = not (model == "mobilenet_v3_small" and prec == "int8" and fmt == "tflite")
    diff = (rng.uniform(1e-6, 5e-5) if prec == "fp32" else rng.uniform(0.02, 0.2)) if ok else 3.7
    metrics = dict(weights="checkpoint", parity_runtime="onnxruntime" if fmt == "onnx" else "litert",
                   export_s=rng.uniform(0.4, 18), file_bytes=int(MODELS[model][1] * (4 if prec == "fp32" else 1.1)),
                   max_abs_diff=diff, mean_abs_diff=diff / 5, cosine=1 - diff / 100 if ok else 0.41,
                   top1_agreement=100.0 if prec == "fp32" else (97.0 if ok else 12.0))
    if top1 is not None:
        metrics.update(top1=(top1 - (0 if prec == "fp32" else 1.5)) if ok else 1.1, top1_reference=top1)
    return _rec(kind="export", model=model, format=fmt, precision=prec, dataset="imagenet",
                status="ok" if ok else "validation_failed",
                error=None if ok else "max_abs_diff 3.7 > tolerance 0.5; top-1 agreement 12%", metrics=metrics)


def _sep_layer(m, n, dk, df, runtime, rng, k=0) -> list[Record]:
    analytic = 1 / n + 1 / dk ** 2
    base = dict(m=m, n=n, dk=dk, df=df, stride=1, analytic_ratio=analytic, counted_ratio=analytic)
    variant = f"M={m},N={n},Dk={dk},Df={df}"
    slow = {"torch": 14.0, "onnxruntime": 5.0}[runtime] / n ** 0.5
    std_ms = 2 * m * n * dk * dk * df * df / 40e9 * 1e3
    sep_ms = std_ms * min(2.0, analytic * (1 + slow)) * rng.uniform(0.9, 1.1)
    return [_rec(kind="separable", model="separable_layer", variant=variant, source="analytic", metrics=dict(base)),
            _rec(kind="separable", model="separable_layer", variant=variant, runtime=runtime,
                 format="pytorch" if runtime == "torch" else "onnx",
                 created_at=f"2026-11-23T05:{k % 60:02d}:30+00:00",
                 metrics=dict(base, measured_ratio=sep_ms / std_ms, separable_ms_p50=sep_ms,
                              standard_ms_p50=std_ms))]


def _separable(rng) -> list[Record]:
    out = []
    for n in (32, 64, 128, 256, 512, 1024):
        for runtime in ("torch", "onnxruntime"):
            recs = _sep_layer(n, n, 3, 14, runtime, rng)
            out += recs if runtime == "torch" else recs[1:]
    m, df = 32, 112
    for i, (n, s) in enumerate([(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (1024, 2)]):
        df //= s
        analytic = 1 / n + 1 / 9
        base = dict(m=m, n=n, dk=3, df=df, stride=s, analytic_ratio=analytic, counted_ratio=analytic * 1.01)
        out.append(_rec(kind="separable", model="mobilenet_v1", variant=f"blocks.{i}", source="analytic",
                        metrics=dict(base)))
        out.append(_rec(kind="separable", model="mobilenet_v1", variant=f"blocks.{i}", runtime="onnxruntime",
                        format="onnx", metrics=dict(base, measured_ratio=analytic * (1 + 6 / n ** 0.5),
                                                    separable_ms_p50=0.1 * analytic * (1 + 6 / n ** 0.5),
                                                    standard_ms_p50=0.1)))
        m = n
    return out


def _training() -> list[Record]:
    out = []
    for model, run, epochs, final in (("resnet18", "resnet18-cifar10-a1", 20, 93.0),
                                      ("mobilenet_v2", "mobilenet_v2-cifar10-a1", 15, 90.5)):
        shape = [3, 32, 32]
        for e in range(1, epochs + 1):
            frac = 1 - 0.85 ** e
            out.append(_rec(kind="train_epoch", model=model, variant=run, dataset="cifar10", input_shape=shape,
                            created_at=f"2026-11-23T04:{e:02d}:00+00:00",
                            metrics=dict(epoch=e, train_loss=2.3 * (1 - frac) + 0.05, test_loss=2.3 * (1 - frac) + 0.25,
                                         train_top1=10 + (final + 5 - 10) * frac,
                                         test_top1=10 + (final - 10) * frac, lr=0.1 * 0.5 ** (e // 5),
                                         epoch_s=31.0 + e % 3, images_per_s=50000 / 31.0)))
        out.append(_rec(kind="train", model=model, variant=run, dataset="cifar10", input_shape=shape,
                        metrics=dict(epochs=epochs, test_top1=final, train_s_total=epochs * 31.5)))
        out.append(_rec(kind="accuracy", model=model, dataset="cifar10", format="pytorch", input_shape=shape,
                        metrics=dict(top1=final, top5=99.8, loss=0.3)))
    return out


BAD_ROWS = [
    # an older schema: no schema_version, latency under an old name
    {"kind": "latency", "model": "resnet34", "runtime": "onnxruntime", "latency_p50_ms": 12.0},
    {"kind": "latency", "runtime": "torch", "latency_ms_p50": 3.0},  # missing model
    {"kind": "benchmark", "model": "resnet18"},  # unknown kind
    {"kind": "latency", "model": "x", "schema_version": 99, "latency_ms_p50": 1.0},  # newer schema
    {"kind": "separable", "model": "mobilenet_v1", "variant": "blocks.9"},  # no n, no ratio
]


def write_synthetic(profiles_dir: str | Path, n: int | None = None, bad_rows: bool = False, seed: int = 0,
                    devices_dir: str | Path | None = None) -> int:
    """Write synthetic records (and optionally BAD_ROWS plus a torn line) under
    ``profiles_dir``, and device peak files under ``devices_dir`` when given;
    returns the number of good records written."""
    recs = synthetic_records(n, seed)
    RecordStore(profiles_dir).extend(recs)
    if bad_rows:
        path = Path(profiles_dir) / "local" / "legacy.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in BAD_ROWS) + '{"kind": "latency", "mod')
    if devices_dir is not None:
        for name, peak, unit in (("local", LOCAL_PEAK, "cpu"), ("jetson-orin-nano", JETSON_PEAK, "gpu")):
            lines = [f'name = "{name}"', f"[peak.{unit}]"] + [f'{k} = {{ value = {v}, kind = "vendor" }}'
                                                              for k, v in peak.items()]
            Path(devices_dir).mkdir(parents=True, exist_ok=True)
            (Path(devices_dir) / f"{name}.toml").write_text("\n".join(lines) + "\n")
    return len(recs)
