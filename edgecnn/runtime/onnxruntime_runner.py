"""ONNX Runtime runner: CPU execution provider; CUDA and TensorRT providers
when this onnxruntime build has them."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Optional, Sequence

import numpy as np

from edgecnn.runtime.base import Runner, RunnerUnsupported

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8,
               "tensor(int8)": np.int8, "tensor(int64)": np.int64, "tensor(int32)": np.int32}
_SUFFIXES = ("_kernel_time", "_nchwc", "_fence_before", "_fence_after")


class OnnxRuntimeRunner(Runner):
    """``OnnxRuntimeRunner(device="cpu"|"cuda"|"tensorrt", threads=N, spin=True)``:
    one session, ``intra_op_num_threads=threads``, ``inter_op_num_threads=1``,
    sequential execution, all graph optimisations on, and ONNX Runtime's
    default thread spinning *within* a run, stopped when the run returns
    (``session.force_spinning_stop``); ``spin=False`` turns spinning off.
    ``alone=True`` (what an isolated worker process passes: no other runtime
    computes in this process) keeps ONNX Runtime's own default instead: the
    pool threads go on spinning briefly after a run, so the next call of a
    series finds them awake. Stopping them cost every call about 21 us here
    (lenet5 0.054 against 0.033 ms, mobilenet_v3_small at 32 px 0.449 against
    0.429 ms, interleaved in one process), which a plain ONNX Runtime program
    does not pay."""

    name = "onnxruntime"
    format = "onnx"
    export_format = "onnx"
    extra = ""
    precisions = ("fp32", "fp16", "int8")  # whatever the artifact holds

    @classmethod
    def unavailable_reason(cls, device: str = "cpu") -> Optional[str]:
        try:
            import onnxruntime as ort
        except ImportError:
            return "onnxruntime is not installed; install it with `pip install onnxruntime`"
        provider = PROVIDERS.get(device.split(":")[0])
        if provider is None:
            return f"onnxruntime: unknown device {device!r}; use one of {', '.join(PROVIDERS)}"
        if provider not in ort.get_available_providers():
            return (f"onnxruntime {ort.__version__} here has no {provider} "
                    f"(available: {', '.join(ort.get_available_providers())})")
        return None

    def _session_options(self, profile_prefix: Optional[str] = None):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        # ORT's pool threads spin between the parallel sections of a run (its default,
        # and what an application gets: turning it off made mobilenet_v2 ~25 % slower
        # here) and keep spinning after the run returns, which steals the cores another
        # runtime needs when timings are interleaved (LiteRT 2.2 -> 4.3 ms here). So:
        # spin during a run, stop when it returns.
        spin = self.options.get("spin", True)
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        so.add_session_config_entry("session.force_spinning_stop", "0" if self._alone() else "1")
        if self.options.get("qdq_as_float"):
            # run QuantizeLinear/DequantizeLinear as they are written (float ops) instead of fusing them into
            # ONNX Runtime's int8 kernels: exact int8 x int8 -> int32 arithmetic, as TensorRT runs a Q/DQ graph,
            # without the int16 pair sums of ORT's x86 kernels on CPUs without VNNI
            so.add_session_config_entry("session.disable_quant_qdq", "1")
        if profile_prefix:
            so.enable_profiling = True
            so.profile_file_prefix = profile_prefix
        return so

    def _providers(self) -> list:
        provider = PROVIDERS[self.device.split(":")[0]]
        return [provider, "CPUExecutionProvider"] if provider != "CPUExecutionProvider" else [provider]

    def _load(self, path: Any) -> None:
        import onnxruntime as ort

        self.path = os.fspath(path)
        self._sess = ort.InferenceSession(self.path, self._session_options(), providers=self._providers())
        inp = self._sess.get_inputs()[0]
        self._input_name = inp.name
        self.input_shape = [d if isinstance(d, int) else -1 for d in inp.shape]
        if inp.type not in _ORT_DTYPES:
            raise RunnerUnsupported(f"onnxruntime runner: input type {inp.type} is not handled")
        self.input_dtype = np.dtype(_ORT_DTYPES[inp.type])

    def _infer(self, x: np.ndarray) -> np.ndarray:
        return self._sess.run(None, {self._input_name: x})[0]

    def _close(self) -> None:
        self._sess = None

    def _alone(self) -> bool:
        return bool(self.options.get("alone", False))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "providers": self._providers(), "spin": bool(self.options.get("spin", True)),
                "force_spinning_stop": not self._alone(),
                **({"qdq_as_float": True} if self.options.get("qdq_as_float") else {})}

    def layer_times(self, inputs: Sequence[np.ndarray], runs: int = 10) -> list[dict[str, Any]]:
        """Per-node kernel times from ORT's own profiler (a second session with
        ``enable_profiling``), median over ``runs`` calls after two warm-ups.
        Fused nodes (Conv+BN+activation) are named after the PyTorch module of
        their convolution, recovered from the original graph."""
        import onnxruntime as ort

        with tempfile.TemporaryDirectory(prefix="edgecnn-ort-prof-") as tmp:
            sess = ort.InferenceSession(self.path, self._session_options(os.path.join(tmp, "p")),
                                        providers=self._providers())
            for i in range(2 + runs):
                sess.run(None, {self._input_name: inputs[i % len(inputs)]})
            events = json.load(open(sess.end_profiling()))
        runs_seen = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
        skip = len(runs_seen) - runs if len(runs_seen) >= runs else 0
        cut = runs_seen[skip]["ts"] if skip and runs_seen else None
        per: dict[str, list[float]] = {}
        ops: dict[str, str] = {}
        order: list[str] = []
        for e in events:
            if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
                continue
            if cut is not None and e["ts"] < cut:
                continue
            node = e["name"]
            if node not in per:
                per[node] = []
                order.append(node)
                ops[node] = e.get("args", {}).get("op_name", "")
            per[node].append(e["dur"] / 1e3)  # us -> ms
        names = onnx_node_modules(self.path)
        rows = []
        for node in order:
            n_calls = len(per[node]) / max(1, runs)
            module = names.resolve(node, ops[node])
            rows.append({"name": module, "node": node, "op_type": ops[node],
                         "time_ms": float(np.median(per[node])) * max(1.0, n_calls)})
        return rows


class onnx_node_modules:
    """Maps ORT profiler node names back to PyTorch module names.

    TorchScript export names nodes after module scopes
    (``/layer1/layer1.0/conv2/Conv`` -> ``layer1.0.conv2``). ORT renames fused
    nodes after their output tensor (``/relu/Relu_output_0_nchwc``); we find
    the producer of that tensor in the original graph and walk back to the
    convolution or matmul it fused."""

    def __init__(self, path: str) -> None:
        import onnx

        graph = onnx.load(path, load_external_data=False).graph
        self.nodes = {n.name: n for n in graph.node}
        self.producer = {out: n for n in graph.node for out in n.output}
        self.initializers = {t.name for t in graph.initializer}

    def resolve(self, profiled: str, op_type: str) -> str:
        name = profiled
        changed = True
        while changed:
            changed = False
            for suf in _SUFFIXES:
                if name.endswith(suf):
                    name, changed = name[: -len(suf)], True
        node = self.nodes.get(name) or self.producer.get(name)
        if node is None:
            return module_of(name)
        compute = {"Conv", "FusedConv", "Gemm", "MatMul", "FusedGemm", "FusedMatMul", "QLinearConv"}
        if op_type in compute:
            hop = node
            for _ in range(6):
                if hop.op_type in ("Conv", "Gemm", "MatMul", "ConvInteger", "QLinearConv"):
                    return module_of(node_label(hop, self.initializers))
                if not hop.input or hop.input[0] not in self.producer:
                    break
                hop = self.producer[hop.input[0]]
        return module_of(node_label(node, self.initializers))


def node_label(node: Any, initializers: set[str] | frozenset[str] = frozenset()) -> str:
    """A ``/``-path that names the module of an ONNX node: its own name as torch.onnx
    wrote it (``/layer1/layer1.0/conv1/Conv``); for a node an optimizer renamed
    (onnxscript's ``node_Conv_3``), its output tensor's name
    (``/layer1/layer1.0/conv1/Conv_output_0``), else the module of its weight
    (``classifier.3.weight`` -> ``/classifier.3/Gemm``)."""
    if node.name.startswith("/"):
        return node.name
    for out in node.output:
        if out.startswith("/"):
            return out
    for inp in node.input:
        if inp in initializers and inp.endswith(".weight"):
            return f"/{inp[: -len('.weight')]}/{node.op_type}"
    return node.name


def module_of(node_name: str) -> str:
    """``/features/features.0/features.0.0/Conv`` -> ``features.0.0``;
    ``/layer1/layer1.0/conv2/Conv`` -> ``layer1.0.conv2``;
    ``/layer2/layer2.0/downsample/downsample.0/Conv`` -> ``layer2.0.downsample.0``."""
    segs = [s for s in node_name.split("/") if s]
    if len(segs) < 2:
        return node_name.strip("/")
    path = ""
    for seg in segs[:-1]:
        if not path:
            path = seg
            continue
        parts = path.split(".")
        for i in range(len(parts)):  # longest tail of path that seg restates ("downsample" + "downsample.0")
            tail = ".".join(parts[i:])
            if seg.startswith(tail + "."):
                path = ".".join(parts[:i] + [seg])
                break
        else:
            path = f"{path}.{seg}"
    return path
