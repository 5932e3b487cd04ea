"""ExecuTorch runner: a ``.pte`` program through ``executorch.runtime``
(XNNPACK delegate for what was lowered to it, portable kernels for the rest).

Threads: ExecuTorch's XNNPACK backend shares one process-wide thread pool;
the runner sizes it to ``threads`` (``_unsafe_reset_threadpool``) and reads
the size back for ``describe()``. Per-layer times come from an ETDump of the
runs (``enable_etdump``) parsed by ``executorch.devtools.Inspector``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from edgecnn.runtime.base import Runner, RunnerUnsupported

# ExecuTorch ScalarType codes (c10) -> numpy
_ET_DTYPES = {0: np.uint8, 1: np.int8, 3: np.int32, 4: np.int64, 5: np.float16, 6: np.float32}
_COMPUTE = ("Convolution", "Fully Connected", "Deconvolution")


@contextlib.contextmanager
def quiet_imports() -> Iterator[None]:
    """torchao registers an enum with torch's pytree at import, which logs a deprecation warning."""
    log = logging.getLogger("torch.utils._pytree")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _runtime_module():
    from edgecnn.runtime._native import native_output

    try:
        with quiet_imports(), native_output():  # cpuinfo lines on x86 (no midr_el1 file)
            from executorch import runtime
            from executorch.extension.pybindings import portable_lib
    except ImportError:
        raise RunnerUnsupported("executorch is not installed; install it with `pip install 'edgecnn[executorch]'`") \
            from None
    return runtime, portable_lib


def xnnpack_fits(op: dict[str, Any], module: dict[str, Any]) -> bool:
    """Does XNNPACK operator ``op`` (its profiling name) compute ``module``?
    Depthwise convolutions are ``DWConv``; 1x1 convolutions may become ``Fully Connected``."""
    from edgecnn.runtime.layer_names import is_depthwise

    name = op["op_type"]
    if name.startswith("Fully Connected"):
        return module["type"] == "Linear" or all(k == 1 for k in module.get("kernel", []))
    if "DWConv" in name:
        return is_depthwise(module)
    return module["type"] != "Linear" and not is_depthwise(module)


class ExecuTorchRunner(Runner):
    """``ExecuTorchRunner(threads=N)``: loads a ``.pte`` file."""

    name = "executorch"
    format = "executorch"
    export_format = "executorch"
    extra = "executorch"
    precisions = ("fp32", "fp16", "int8")  # whatever the program holds
    layer_method = ("ExecuTorch ETDump (XNNPACK operator and portable kernel events, median of runs), parsed "
                    "with executorch.devtools.Inspector; XNNPACK operators named after PyTorch modules in call order")

    @classmethod
    def unavailable_reason(cls, device: str = "cpu") -> Optional[str]:
        if device != "cpu":
            return f"executorch runner times the CPU (XNNPACK) only, not {device!r}"
        try:
            _, lib = _runtime_module()
        except RunnerUnsupported as exc:
            return str(exc)
        if not lib._is_available("XnnpackBackend"):
            return "this executorch build has no XnnpackBackend"
        return None

    def _open(self, etdump: bool = False):
        runtime, _ = _runtime_module()
        from edgecnn.runtime._native import native_output

        with native_output():  # cpuinfo lines on x86 (no midr_el1 file)
            program = runtime.Runtime.get().load_program(self.path, verification=runtime.Verification.Minimal,
                                                         enable_etdump=etdump, debug_buffer_size=0)
            method = program.load_method("forward")
        return program, method

    def _load(self, path: Any) -> None:
        from edgecnn.runtime._native import native_output, sidecar_metadata

        _, lib = _runtime_module()
        self.path = os.fspath(path)
        self._saved_threads = int(lib._threadpool_get_thread_count())
        with native_output():  # "Resetting threadpool to N threads."
            lib._unsafe_reset_threadpool(self.threads)
        self.threads_used = int(lib._threadpool_get_thread_count())
        self._program, self._method = self._open()
        meta = self._method.metadata
        if meta.num_inputs() != 1:
            raise RunnerUnsupported(f"executorch runner feeds one input; {self.path} takes {meta.num_inputs()}")
        info = meta.input_tensor_meta(0)
        self.input_shape = [int(d) for d in info.sizes()]
        if info.dtype() not in _ET_DTYPES:
            raise RunnerUnsupported(f"executorch runner: input dtype code {info.dtype()} is not handled")
        self.input_dtype = np.dtype(_ET_DTYPES[info.dtype()])
        self.metadata = sidecar_metadata(self.path)
        self.precision = str(self.metadata.get("precision") or self.precision)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        import torch

        # the program reads the raw buffer: a strided view would be read as if it were contiguous
        return self._method.execute([torch.from_numpy(np.ascontiguousarray(x))])[0].numpy()

    def _close(self) -> None:
        self._method = None
        self._program = None
        _, lib = _runtime_module()
        if self._saved_threads and self._saved_threads != self.threads_used:
            from edgecnn.runtime._native import native_output

            with native_output():
                lib._unsafe_reset_threadpool(self._saved_threads)

    def describe(self) -> dict[str, Any]:
        d = {**super().describe(), "delegate": "xnnpack"}
        if self.loaded:
            from importlib import metadata

            ran = {"fp16": "f16"}.get(self.precision, "f32")  # the program's float tensors (int8: its float parts)
            d.update(threads_used=self.threads_used, inference_precision=ran, version=metadata.version("executorch"))
        return d

    def layer_times(self, inputs: Sequence[np.ndarray], runs: int = 10) -> list[dict[str, Any]]:
        """Per-operator times from an ETDump of ``2 + runs`` calls (the first two
        dropped), median of the rest: XNNPACK's operators inside the delegate
        and the portable kernels outside it."""
        import torch

        try:
            with quiet_imports():
                from executorch.devtools import Inspector
        except ImportError as exc:
            raise RunnerUnsupported(f"executorch.devtools (ETDump parsing) does not import here: {exc}") from None
        from edgecnn.runtime.layer_names import pair_in_order

        program, method = self._open(etdump=True)
        for i in range(2 + runs):
            method.execute([torch.from_numpy(inputs[i % len(inputs)])])
        with tempfile.TemporaryDirectory(prefix="edgecnn-etdump-") as tmp:
            dump = os.path.join(tmp, "run.etdp")
            program.write_etdump_result_to_file(dump, os.path.join(tmp, "debug.bin"))
            if not os.path.exists(dump) or os.path.getsize(dump) == 0:
                raise RunnerUnsupported("this executorch build wrote no ETDump (built without the event tracer)")
            with quiet_imports(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Output Buffer not found")  # no tensor dumps: none asked
                inspector = Inspector(etdump_path=dump)
        ops = []
        for block in inspector.event_blocks:
            if block.name != "Execute":
                continue
            for e in block.events:
                if e.perf_data is None or e.name in ("OPERATOR_CALL", "DELEGATE_CALL", "Method::execute"):
                    continue
                raw = list(e.perf_data.raw)[2:] or list(e.perf_data.raw)
                op_type = str(e.name).split(" #")[0] if e.is_delegated_op else str(e.name).replace("native_call_", "")
                ops.append({"node": str(e.name), "op_type": op_type, "time_ms": float(np.median(raw)),
                            "delegated": bool(e.is_delegated_op),
                            "compute": bool(e.is_delegated_op) and op_type.startswith(_COMPUTE)})
        names = pair_in_order(ops, self.metadata.get("layer_modules") or [], xnnpack_fits)
        rows = []
        for i, op in enumerate(ops):
            rows.append({"name": names.get(i, op["node"]), "node": op["node"], "op_type": op["op_type"],
                         "time_ms": op["time_ms"], "delegate": "xnnpack" if op["delegated"] else "portable"})
        return rows
