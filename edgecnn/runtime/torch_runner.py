"""PyTorch eager runner: CPU, and CUDA when present (FP32, FP16, BF16,
channels-last, CUDA graphs)."""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence

import numpy as np

from edgecnn.runtime.base import Runner, RunnerUnsupported


COMPILE_MODES = ("default", "max-autotune", "max-autotune-no-cudagraphs", "reduce-overhead")


class TorchRunner(Runner):
    """``TorchRunner(device="cpu"|"cuda", precision="fp32"|"fp16"|"bf16",
    channels_last=False, cuda_graphs=False, compile=None, threads=N)``.

    Loads an ``nn.Module`` (or a TorchScript file). ``infer`` takes a numpy
    input, copies it to the device and the output back (end to end, so it
    compares with runtimes that take numpy arrays). On CUDA,
    ``device_phases()`` gives the copies and the compute step apart (pinned
    host buffers, the input resident on the device, CUDA events):
    ``edgecnn.runtime.device_timing``. ``threads`` sets
    ``torch.set_num_threads`` (process-wide; restored on close).

    fp16 and bf16 convert the weights and the input (no autocast): fp16 on
    CUDA only, bf16 also on the CPU (oneDNN has bf16 kernels on CPUs with
    AVX512-BF16 or AMX; elsewhere they are slow emulation). On CUDA, FP32
    convolutions may use TF32 tensor cores (``torch.backends.cudnn.allow_tf32``,
    on by default) and ``cudnn.benchmark`` is on (cuDNN times its algorithms
    for each new shape during the warm-up; ``cudnn_benchmark=False`` turns it
    off); ``describe()`` records both.

    ``compile``: ``torch.compile`` the module with that mode (``default``,
    ``max-autotune``, ...; ``compile_backend`` defaults to inductor). The
    first call, which compiles, is timed at load (``compile_s`` in
    ``describe()``). ``split=True`` gives device phases on the CPU too (host
    clock, plain tensors): the same code path as CUDA, for the smoke run and tests.
    """

    name = "torch"
    format = "pytorch"
    extra = ""
    precisions = ("fp32", "fp16", "bf16")

    def __init__(self, *, threads: Optional[int] = None, device: str = "cpu", precision: str = "fp32",
                 channels_last: bool = False, cuda_graphs: bool = False, compile: Optional[str] = None,
                 compile_backend: str = "inductor", cudnn_benchmark: bool = True, split: bool = False,
                 **options: Any) -> None:
        super().__init__(threads=threads, device=device, precision=precision, **options)
        self.channels_last = bool(channels_last)
        self.cuda_graphs = bool(cuda_graphs)
        self.compile_mode = compile
        self.compile_backend = compile_backend
        self.cudnn_benchmark = bool(cudnn_benchmark)
        self.split = bool(split) or device.startswith("cuda")
        if precision == "fp16" and not device.startswith("cuda"):
            raise RunnerUnsupported("torch fp16 is timed on CUDA only (CPU half-precision convolutions are "
                                    "reference kernels, not a deployment path)")
        if cuda_graphs and not device.startswith("cuda"):
            raise RunnerUnsupported("CUDA graphs need device=cuda")
        if compile is not None and compile not in COMPILE_MODES:
            raise RunnerUnsupported(f"torch.compile mode {compile!r} is not one of {', '.join(COMPILE_MODES)}")
        if compile is not None and cuda_graphs:
            raise RunnerUnsupported("torch.compile and the runner's own CUDA graphs do not combine (the "
                                    "compile modes reduce-overhead and max-autotune capture their own)")
        self._model = None
        self._fn = None  # what the compute step calls: the module, or its compiled form
        self._graph = None
        self._saved_threads: Optional[int] = None
        self._saved_benchmark: Optional[bool] = None
        self.compile_s: Optional[float] = None
        self._dev_in = self._dev_out = self._host_in = self._host_out = None

    @classmethod
    def unavailable_reason(cls, device: str = "cpu") -> Optional[str]:
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            return "torch: no CUDA device here (torch.cuda.is_available() is False)"
        return None

    @property
    def _cuda(self) -> bool:
        return self.device.startswith("cuda")

    def _load(self, path_or_model: Any) -> None:
        import torch

        if isinstance(path_or_model, torch.nn.Module):
            model = path_or_model
        else:
            model = torch.jit.load(str(path_or_model), map_location="cpu")
        self._saved_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        if self._cuda:
            self._saved_benchmark = torch.backends.cudnn.benchmark
            torch.backends.cudnn.benchmark = self.cudnn_benchmark
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.precision, torch.float32)
        model = model.eval().to(device=self.device, dtype=dtype)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self._model = model
        self._dtype = dtype
        shape = self.options.get("input_shape")
        self.input_shape = list(shape) if shape else None
        self._fn = model
        if self.compile_mode is not None:
            self._compile(shape)
        if self.cuda_graphs:
            if not shape:
                raise RunnerUnsupported("CUDA graphs need a fixed input_shape=[N, C, H, W]")
            self._capture(shape)

    def _compile(self, shape: Optional[Sequence[int]]) -> None:
        """``torch.compile`` and one call to compile it, timed (``compile_s``)."""
        import torch

        if not shape:
            raise RunnerUnsupported("torch.compile is timed at a fixed input_shape=[N, C, H, W]")
        kwargs: dict[str, Any] = {"backend": self.compile_backend}
        if self.compile_mode != "default":
            kwargs["mode"] = self.compile_mode
        self._fn = torch.compile(self._model, **kwargs)
        x = self._device_tensor(shape)
        t0 = time.perf_counter()
        with torch.inference_mode():
            self._fn(x)
            self._fn(x)  # a second call: a mode that records CUDA graphs does so on its warm-up calls
        self.sync()
        self.compile_s = time.perf_counter() - t0

    def _device_tensor(self, shape: Sequence[int]):
        import torch

        t = torch.randn(*shape, device=self.device, dtype=self._dtype)
        return t.contiguous(memory_format=torch.channels_last) if self.channels_last and t.ndim == 4 else t

    def _to_device(self, x: np.ndarray):
        import torch

        t = torch.from_numpy(x).to(self.device, dtype=self._dtype, non_blocking=False)
        if self.channels_last and t.ndim == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def _capture(self, shape: Sequence[int]) -> None:
        import torch

        self._static_in = self._device_tensor(shape)
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
            y = self._fn(self._to_device(x))
        if isinstance(y, (tuple, list)):
            y = y[0]
        return y.float().cpu().numpy()

    # -- device time apart from the copies (edgecnn.runtime.device_timing) ----------------
    def device_phases(self) -> Any:
        """h2d (pinned host buffer -> resident input), compute (the module, its
        compiled form or the CUDA graph on the resident input) and d2h (output
        -> pinned host buffer), timed with CUDA events on the current stream;
        on the CPU only when the runner was made with ``split=True`` (host clock)."""
        import torch

        from edgecnn.runtime.device_timing import CudaEventTimer, DevicePhases
        from edgecnn.runtime.timing import HostTimer

        if not self.split or self._model is None:
            return None
        shape = self.input_shape
        if not shape or any(d is None or d < 1 for d in shape):
            raise RunnerUnsupported("device phases need a fixed input_shape=[N, C, H, W]")
        self._dev_in = self._static_in if self._graph is not None else self._device_tensor(shape)
        pin = self._cuda
        self._host_in = torch.empty_like(self._dev_in, device="cpu")  # the device input's layout (NHWC when CL)
        if pin:
            self._host_in = self._host_in.pin_memory()
        self._compute()
        self.sync()
        out = self._dev_out
        self._host_out = torch.empty_like(out, device="cpu")
        if pin:
            self._host_out = self._host_out.pin_memory()
        timer = CudaEventTimer() if self._cuda else HostTimer()
        return DevicePhases(compute=self._compute, h2d=self._h2d, d2h=self._d2h, timer=timer, prepare=self._prepare,
                            sync=self.sync, h2d_bytes=self._host_in.numel() * self._host_in.element_size(),
                            d2h_bytes=out.numel() * out.element_size(),
                            host_memory="pinned" if pin else "pageable (CPU tensors)")

    def resident(self) -> tuple[Any, Any]:
        """The callable the compute step runs and its resident input (after
        ``device_phases()``): what a plain script would time, the same objects."""
        if self._dev_in is None:
            raise RuntimeError("call device_phases() first")
        return self._fn, self._dev_in

    def _compute(self) -> None:
        import torch

        if self._graph is not None:
            self._graph.replay()
            self._dev_out = self._static_out
            return
        with torch.inference_mode():
            y = self._fn(self._dev_in)
        self._dev_out = y[0] if isinstance(y, (tuple, list)) else y

    def _h2d(self) -> None:
        self._dev_in.copy_(self._host_in, non_blocking=self._cuda)

    def _d2h(self) -> None:
        self._host_out.copy_(self._dev_out, non_blocking=self._cuda)

    def _prepare(self, x: np.ndarray) -> None:
        import torch

        self._host_in.copy_(torch.from_numpy(x).to(self._dtype))
        self._h2d()
        self._compute()
        self._d2h()
        self.sync()

    def sync(self) -> None:
        if self._cuda:
            import torch

            torch.cuda.synchronize()

    def _close(self) -> None:
        import torch

        self._model = self._fn = None
        self._graph = None
        self._dev_in = self._dev_out = self._host_in = self._host_out = None
        if self._saved_threads:
            torch.set_num_threads(self._saved_threads)
        if self._saved_benchmark is not None:
            torch.backends.cudnn.benchmark = self._saved_benchmark

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "channels_last": self.channels_last, "cuda_graphs": self.cuda_graphs}
        if self.compile_mode is not None:
            out.update(compile_mode=self.compile_mode, compile_backend=self.compile_backend,
                       compile_s=self.compile_s)
        if self._cuda:
            import torch

            out["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
            out["cudnn_benchmark"] = self.cudnn_benchmark
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
