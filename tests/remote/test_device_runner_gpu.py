"""The device runner's TensorRT path times the engine on the device apart from
the copies (CUDA events through cuda-python's cudart), checked exactly with a
fake tensorrt and a fake cudart whose device timeline advances by fixed
amounts per operation."""

from __future__ import annotations

import ctypes
import sys
import types

import numpy as np
import pytest

COMPUTE_MS, H2D_MS, D2H_MS = 2.0, 0.5, 0.25
IN_SHAPE, OUT_SHAPE = (2, 3, 8, 8), (2, 10)


class FakeCudart(types.ModuleType):
    """A device timeline in ms: copies and the engine's work advance it; events read it."""

    class cudaMemcpyKind:  # noqa: N801 - cudart's name
        cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost = "H2D", "D2H"

    def __init__(self) -> None:
        super().__init__("cuda.cudart")
        self.now_ms = 0.0
        self.keep: list = []

    def _alloc(self, n: int):
        buf = ctypes.create_string_buffer(int(n))
        self.keep.append(buf)
        return 0, ctypes.addressof(buf)

    def cudaStreamCreate(self):  # noqa: N802
        return 0, "stream"

    def cudaMalloc(self, n):  # noqa: N802
        return self._alloc(n)

    def cudaMallocHost(self, n):  # noqa: N802
        return self._alloc(n)

    def cudaMemcpyAsync(self, dst, src, n, kind, stream):  # noqa: N802
        ctypes.memmove(dst, src, n)
        self.now_ms += H2D_MS if kind == "H2D" else D2H_MS
        return (0,)

    def cudaStreamSynchronize(self, stream):  # noqa: N802
        return (0,)

    def cudaEventCreate(self):  # noqa: N802
        return 0, {"t": None}

    def cudaEventRecord(self, ev, stream):  # noqa: N802
        ev["t"] = self.now_ms
        return (0,)

    def cudaEventSynchronize(self, ev):  # noqa: N802
        return (0,)

    def cudaEventElapsedTime(self, a, b):  # noqa: N802
        return 0, b["t"] - a["t"]


def fake_tensorrt(cudart: FakeCudart) -> types.ModuleType:
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.99.0-fake"

    class Logger:
        WARNING = 1

        def __init__(self, level) -> None:
            pass

    class TensorIOMode:
        INPUT, OUTPUT = "in", "out"

    class Context:
        def get_tensor_shape(self, name):
            return IN_SHAPE if name == "input" else OUT_SHAPE

        def set_tensor_address(self, name, ptr):
            pass

        def execute_async_v3(self, stream):
            cudart.now_ms += COMPUTE_MS
            return True

    class Engine:
        num_io_tensors = 2

        def get_tensor_name(self, i):
            return ("input", "logits")[i]

        def get_tensor_mode(self, name):
            return TensorIOMode.INPUT if name == "input" else TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name):
            return "float32"

        def create_execution_context(self):
            return Context()

    class Runtime:
        def __init__(self, logger) -> None:
            pass

        def deserialize_cuda_engine(self, data):
            return Engine()

    trt.Logger, trt.TensorIOMode, trt.Runtime = Logger, TensorIOMode, Runtime
    trt.nptype = lambda dt: np.float32
    return trt


@pytest.fixture
def fake_gpu(monkeypatch):
    cudart = FakeCudart()
    cuda = types.ModuleType("cuda")
    cuda.cudart = cudart
    monkeypatch.setitem(sys.modules, "cuda", cuda)
    monkeypatch.setitem(sys.modules, "cuda.cudart", cudart)
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt(cudart))
    return cudart


def test_tensorrt_job_reports_device_time_copies_and_end_to_end(fake_gpu, tmp_path):
    from edgecnn.remote import device_runner

    engine = tmp_path / "m.engine"
    engine.write_bytes(b"fake engine")
    res = device_runner.run_job({"runtime": "tensorrt", "artifact": str(engine), "batch": 2, "warmup": 1,
                                 "warmup_s": 0, "runs": 5, "min_time_s": 0})
    assert res["status"] == "ok", res
    st = res["stats"]
    # the headline is the engine's device work alone, as the events saw it
    assert st["latency_ms_p50"] == pytest.approx(COMPUTE_MS) and st["latency_ms_max"] == pytest.approx(COMPUTE_MS)
    assert st["latency_measure"] == "device_compute" and st["includes_host_copies"] is False
    assert st["h2d_ms_p50"] == pytest.approx(H2D_MS) and st["d2h_ms_p50"] == pytest.approx(D2H_MS)
    assert st["h2d_bytes"] == 2 * 3 * 8 * 8 * 4 and st["d2h_bytes"] == 2 * 10 * 4
    assert st["device_timer"] == "cuda_events" and st["host_memory"] == "pinned"
    assert st["end_to_end_ms_p50"] > 0 and st["runs"] >= 5 and st["h2d_runs"] >= 20


def test_the_pinned_input_holds_the_array_that_prepare_copied(fake_gpu, tmp_path):
    from edgecnn.remote import device_runner

    engine = tmp_path / "m.engine"
    engine.write_bytes(b"fake engine")
    infer, shape, dtype, _, version, _ = device_runner._tensorrt(str(engine), 1)
    assert shape == list(IN_SHAPE) and dtype == "float32" and version == "10.99.0-fake"
    x = np.arange(np.prod(IN_SHAPE), dtype=np.float32).reshape(IN_SHAPE)
    phases = infer.device_phases
    before = fake_gpu.now_ms
    phases["prepare"](x)
    assert fake_gpu.now_ms - before == pytest.approx(H2D_MS + COMPUTE_MS + D2H_MS)
    # the device input buffer got the array through the pinned buffer
    dev_in = [b for b in fake_gpu.keep if len(b) == x.nbytes]
    assert any(np.array_equal(np.frombuffer(b.raw, dtype=np.float32), x.ravel()) for b in dev_in)
