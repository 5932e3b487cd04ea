"""PyTorch eager runner: CPU, and CUDA when present (FP32, FP16, BF16,
channels-last, CUDA graphs)."""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence

import numpy as np

from edgecnn.runtime.base import Runner, RunnerUnsupported


class TorchRunner(Runner):
    """``TorchRunner(device="cpu"|"cuda", precision="fp32"|"fp16"|"bf16",
    channels_last=False, cuda_graphs=False, threads=N)``.

    Loads an ``nn.Module`` (or a TorchScript file). The numpy input is copied
    to the device inside ``infer`` and the output copied back, so the time
    compares with runtimes that take numpy arrays. ``threads`` sets
    ``torch.set_num_threads`` (process-wide; restored on close).

    fp16 and bf16 convert the weights and the input (no autocast): fp16 on
    CUDA only, bf16 also on the CPU (oneDNN has bf16 kernels on CPUs with
    AVX512-BF16 or AMX; elsewhere they are slow emulation). On CUDA, FP32
    convolutions may use TF32 tensor cores (``torch.backends.cudnn.allow_tf32``,
    on by default); ``describe()`` records the setting.
    """

    name = "torch"
    format = "pytorch"
    extra = ""
    precisions = ("fp32", "fp16", "bf16")

    def __init__(self, *, threads: Optional[int] = None, device: str = "cpu", precision: str = "fp32",
                 channels_last: bool = False, cuda_graphs: bool = False, **options: Any) -> None:
        super().__init__(threads=threads, device=device, precision=precision, **options)
        self.channels_last = bool(channels_last)
        self.cuda_graphs = bool(cuda_graphs)
        if precision == "fp16" and not device.startswith("cuda"):
            raise RunnerUnsupported("torch fp16 is timed on CUDA only (CPU half-precision convolutions are "
                                    "reference kernels, not a deployment path)")
        if cuda_graphs and not device.startswith("cuda"):
            raise RunnerUnsupported("CUDA graphs need device=cuda")
        self._model = None
        self._graph = None
        self._saved_threads: Optional[int] = None

    @classmethod
    def unavailable_reason(cls, device: str = "cpu") -> Optional[str]:
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            return "torch: no CUDA device here (torch.cuda.is_available() is False)"
        return None

    def _load(self, path_or_model: Any) -> None:
        import torch

        if isinstance(path_or_model, torch.nn.Module):
            model = path_or_model
        else:
            model = torch.jit.load(str(path_or_model), map_location="cpu")
        self._saved_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.precision, torch.float32)
        model = model.eval().to(device=self.device, dtype=dtype)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self._model = model
        self._dtype = dtype
        shape = self.options.get("input_shape")
        self.input_shape = list(shape) if shape else None
        if self.cuda_graphs:
            if not shape:
                raise RunnerUnsupported("CUDA graphs need a fixed input_shape=[N, C, H, W]")
            self._capture(shape)

    def _to_device(self, x: np.ndarray):
        import torch

        t = torch.from_numpy(x).to(self.device, dtype=self._dtype, non_blocking=False)
        if self.channels_last and t.ndim == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def _capture(self, shape: Sequence[int]) -> None:
        import torch

        self._static_in = torch.randn(*shape, device=self.device, dtype=self._dtype)
        if self.channels_last:
            self._static_in = self._static_in.contiguous(memory_format=torch.channels_last)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(stream):
            for _ in range(3):  # warm-up on a side stream before capture (CUDA graph rules)
                self._model(self._static_in)
        torch.cuda.current_stream().wait_stream(stream)
        self._graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(self._graph):
            self._static_out = self._model(self._static_in)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        import torch

        if self._graph is not None:
            self._static_in.copy_(torch.from_numpy(x))
            self._graph.replay()
            return self._static_out.float().cpu().numpy()
        with torch.inference_mode():
            y = self._model(self._to_device(x))
        if isinstance(y, (tuple, list)):
            y = y[0]
        return y.float().cpu().numpy()

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    def _close(self) -> None:
        import torch

        self._model = None
        self._graph = None
        if self._saved_threads:
            torch.set_num_threads(self._saved_threads)

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "channels_last": self.channels_last, "cuda_graphs": self.cuda_graphs}
        if self.device.startswith("cuda"):
            import torch

            out["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
        return out

    def layer_times(self, inputs: Sequence[np.ndarray], runs: int = 10) -> list[dict[str, Any]]:
        """Leaf-module times from forward pre/post hooks (synchronised on CUDA),
        median over ``runs`` calls after two warm-up calls. Functional ops that
        are not modules (``x + y`` in a residual) are not listed: the caller
        reports them as the remainder of the whole-model time."""
        import torch

        if self._graph is not None:
            raise RunnerUnsupported("per-layer times are not available inside a CUDA graph")
        model = self._model
        leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
        times: dict[str, list[float]] = {n: [] for n, _ in leaves}
        starts: dict[str, float] = {}
        cuda = self.device.startswith("cuda")
        handles = []

        def pre(name):
            def hook(mod, args):
                if cuda:
                    torch.cuda.synchronize()
                starts[name] = time.perf_counter()
            return hook

        def post(name):
            def hook(mod, args, out):
                if cuda:
                    torch.cuda.synchronize()
                times[name].append((time.perf_counter() - starts.pop(name)) * 1e3)
            return hook

        for n, m in leaves:
            handles.append(m.register_forward_pre_hook(pre(n)))
            handles.append(m.register_forward_hook(post(n)))
        try:
            with torch.inference_mode():
                for i in range(2 + runs):
                    if i == 2:
                        for v in times.values():
                            v.clear()
                    model(self._to_device(inputs[i % len(inputs)]))
        finally:
            for h in handles:
                h.remove()
        types = dict(leaves)
        rows = []
        for n, _ in leaves:
            if not times[n]:
                continue  # a module the forward never called
            calls = len(times[n]) / runs  # a module called twice per forward counts both
            rows.append({"name": n, "op_type": type(types[n]).__name__,
                         "time_ms": float(np.median(times[n])) * calls})
        return rows
