"""NCNN runner: a ``.ncnn.param`` + ``.ncnn.bin`` pair through the ``ncnn`` Python binding.

NCNN's graph has no batch dimension: ``infer`` runs a batch image by image
(one ``Extractor`` each) and stacks the outputs. ``threads`` sets
``opt.num_threads``; the ``fp16`` option (default: what the exporter chose,
read from the metadata beside the file; else off) turns NCNN's fp16 storage,
packing and arithmetic on or off together, and bf16 storage is always off,
so an fp32 artifact runs in fp32 on every CPU.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from edgecnn.runtime.base import Runner, RunnerLoadError, RunnerUnsupported

COMPUTE_LAYERS = ("Convolution", "ConvolutionDepthWise", "InnerProduct", "Deconvolution",
                  "DeconvolutionDepthWise")


def _ncnn():
    try:
        import ncnn
    except ImportError:
        raise RunnerUnsupported("ncnn is not installed; install it with `pip install 'edgecnn[ncnn]'`") from None
    return ncnn


def weights_path(param: str) -> str:
    """``m.ncnn.param`` -> ``m.ncnn.bin`` (``m.param`` -> ``m.bin``)."""
    return param[: -len(".param")] + ".bin" if param.endswith(".param") else param + ".bin"


def param_layers(param: str | os.PathLike) -> list[tuple[str, str, dict[str, str]]]:
    """(type, name, params) of every layer of an NCNN text ``.param`` file."""
    lines = Path(param).read_text().splitlines()
    if not lines or lines[0].strip() != "7767517":
        raise RunnerLoadError(f"{Path(param).name} is not an NCNN text param file")
    layers = []
    for line in lines[2:]:
        parts = line.split()
        if len(parts) < 4:
            continue
        n_in, n_out = int(parts[2]), int(parts[3])
        params = dict(p.split("=", 1) for p in parts[4 + n_in + n_out:] if "=" in p)
        layers.append((parts[0], parts[1], params))
    return layers


def ncnn_fits(op: dict[str, Any], module: dict[str, Any]) -> bool:
    """Does NCNN layer ``op`` compute ``module`` (same output channels, same kind)?"""
    out = op.get("num_output")
    if out is None or int(out) != int(module["out_channels"]):
        return False
    kind = op["op_type"]
    if kind == "InnerProduct":  # a Linear, or a 1x1 convolution on a 1x1 map (squeeze-excitation)
        return module["type"] == "Linear" or all(k == 1 for k in module.get("kernel", []))
    if kind.endswith("DepthWise"):
        return int(module.get("groups", 1)) > 1
    return module["type"] != "Linear" and int(module.get("groups", 1)) == 1


class NCNNRunner(Runner):
    """``NCNNRunner(threads=N, fp16=None)``."""

    name = "ncnn"
    format = "ncnn"
    export_format = "ncnn"
    extra = "ncnn"
    precisions = ("fp32", "fp16")
    layer_method = ("NCNN layer by layer: one Extractor, each layer's output blob extracted in graph order "
                    "without conversion (NCNN's own forward_layer and packing), median of runs; includes ~1-2 us "
                    "of Python call per layer")

    @classmethod
    def unavailable_reason(cls, device: str = "cpu") -> Optional[str]:
        if device != "cpu":
            return f"ncnn runner times the CPU only (Vulkan is not used), not {device!r}"
        try:
            _ncnn()
        except RunnerUnsupported as exc:
            return str(exc)
        return None

    @classmethod
    def companion_files(cls, path: str) -> list[str]:
        return [weights_path(path)]

    def _load(self, path: Any) -> None:
        from edgecnn.runtime._native import runtime_settings, sidecar_metadata

        ncnn = _ncnn()
        self.path = os.fspath(path)
        weights = weights_path(self.path)
        if not os.path.exists(weights):
            raise RunnerLoadError(f"ncnn: the weights {weights} are missing beside {self.path}")
        meta = sidecar_metadata(self.path)
        settings = runtime_settings(self.path, "ncnn")
        self.fp16 = bool(self.options["fp16"] if self.options.get("fp16") is not None else settings.get("fp16", False))
        self.precision = str(meta.get("precision") or ("fp16" if self.fp16 else "fp32"))
        net = ncnn.Net()
        opt = net.opt
        opt.num_threads = self.threads
        opt.use_vulkan_compute = False
        opt.use_fp16_storage = opt.use_fp16_packed = opt.use_fp16_arithmetic = self.fp16
        opt.use_bf16_storage = False
        if net.load_param(self.path) != 0:
            raise RunnerLoadError(f"ncnn could not load {self.path} (an unknown layer type or a corrupt file)")
        if net.load_model(weights) != 0:
            raise RunnerLoadError(f"ncnn could not load the weights {weights}")
        self._net = net
        self._in = settings.get("input") or net.input_names()[0]
        self._out = settings.get("output") or net.output_names()[0]
        shape = meta.get("input_shape") or [1, 3, -1, -1]
        self.input_shape = [-1, *[int(d) if isinstance(d, int) else -1 for d in shape[1:]]]
        self.input_dtype = np.dtype(np.float32)
        self.fp16_arithmetic = bool(self.fp16 and ncnn.cpu_support_arm_asimdhp())

    def _one(self, image: np.ndarray) -> np.ndarray:
        ncnn = _ncnn()
        ex = self._net.create_extractor()
        data = np.ascontiguousarray(image)  # ncnn.Mat borrows this memory: keep it alive until extract returns
        ex.input(self._in, ncnn.Mat(data))
        ret, out = ex.extract(self._out)
        if ret != 0:
            raise RuntimeError(f"ncnn extract of {self._out!r} failed ({ret})")
        return np.array(out, dtype=np.float32).reshape(-1)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        return np.stack([self._one(img) for img in x])

    def _close(self) -> None:
        if getattr(self, "_net", None) is not None:
            self._net.clear()
        self._net = None

    def describe(self) -> dict[str, Any]:
        d = {**super().describe(), "fp16_storage": getattr(self, "fp16", None)}
        if self.loaded:
            ncnn = _ncnn()
            d.update(inference_precision="f16" if self.fp16_arithmetic else "f32", bf16_storage=False,
                     vulkan=False, batch="image by image", version=getattr(ncnn, "__version__", None))
        return d

    def layer_times(self, inputs: Sequence[np.ndarray], runs: int = 10) -> list[dict[str, Any]]:
        """Per-layer times: for each run one Extractor (light mode off, so no
        blob is recomputed) extracts every layer's first output blob in graph
        order, unconverted (``type=1``), so each call runs exactly that layer;
        two warm-up runs, then the median of ``runs``. Names: NCNN's compute
        layers paired in order with the PyTorch Conv/Linear modules."""
        from edgecnn.runtime._native import sidecar_metadata
        from edgecnn.runtime.layer_names import pair_in_order

        ncnn = _ncnn()
        layers = [(i, layer) for i, layer in enumerate(self._net.layers()) if layer.type != "Input"]
        per: list[list[float]] = [[] for _ in layers]
        for r in range(2 + runs):
            ex = self._net.create_extractor()
            ex.set_light_mode(False)
            data = np.ascontiguousarray(inputs[r % len(inputs)][0])  # borrowed by ncnn.Mat
            ex.input(self._in, ncnn.Mat(data))
            for k, (_, layer) in enumerate(layers):
                t0 = time.perf_counter()
                ret, _mat = ex.extract(int(layer.tops[0]), 1)
                dt = (time.perf_counter() - t0) * 1e3
                if ret != 0:
                    raise RuntimeError(f"ncnn could not run layer {layer.name} ({layer.type})")
                if r >= 2:
                    per[k].append(dt)
        params = {name: p for _, name, p in param_layers(self.path)}
        ops = [{"node": layer.name, "op_type": layer.type, "compute": layer.type in COMPUTE_LAYERS,
                "num_output": params.get(layer.name, {}).get("0")} for _, layer in layers]
        names = pair_in_order(ops, sidecar_metadata(self.path).get("layer_modules") or [], ncnn_fits)
        return [{"name": names.get(k, op["node"]), "node": op["node"], "op_type": op["op_type"],
                 "time_ms": float(np.median(per[k]))} for k, op in enumerate(ops)]
