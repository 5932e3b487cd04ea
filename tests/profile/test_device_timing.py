"""Device time apart from the copies (edgecnn/runtime/device_timing.py): the
fields and the arithmetic, exactly, with a fake device timer; the torch
runner's device phases on CPU tensors; the isolated worker's split path; the
fidelity statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgecnn.runtime.device_timing import DevicePhases, time_split
from edgecnn.runtime.timing import TimingConfig, random_inputs, ratio_interval, ratio_verdict

from profile_fakes import FakeClock

REPO = Path(__file__).resolve().parents[2]
QUICK = TimingConfig(warmup=2, warmup_s=0.0, runs=6, min_time_s=0.0, max_time_s=10.0)


class FakeGpuRunner:
    """Compute takes ``compute_ms`` of device time, the copies ``h2d_ms`` /
    ``d2h_ms``; an end-to-end call advances the host clock by all three plus
    ``pageable_ms`` (a pageable copy costs more than a pinned one)."""

    device = "cuda"

    def __init__(self, clock: FakeClock, compute_ms: float, h2d_ms: float = 1.0, d2h_ms: float = 0.5,
                 pageable_ms: float = 2.0) -> None:
        self.clock, self.compute_ms, self.h2d_ms, self.d2h_ms = clock, compute_ms, h2d_ms, d2h_ms
        self.pageable_ms = pageable_ms
        self.device_ms = 0.0
        self.calls = {"compute": 0, "h2d": 0, "d2h": 0, "infer": 0, "prepare": 0}

    def _step(self, name: str, ms: float):
        def run():
            self.calls[name] += 1
            self.device_ms += ms
        return run

    def timer(self, call, sync=None) -> float:
        start = self.device_ms
        call()
        return self.device_ms - start

    def device_phases(self) -> DevicePhases:
        self.timer.__func__.name = "fake_events"
        return DevicePhases(compute=self._step("compute", self.compute_ms), h2d=self._step("h2d", self.h2d_ms),
                            d2h=self._step("d2h", self.d2h_ms), timer=self.timer,
                            prepare=lambda x: self.calls.__setitem__("prepare", self.calls["prepare"] + 1),
                            sync=lambda: None, h2d_bytes=3_000_000, d2h_bytes=4_000, host_memory="pinned")

    def infer(self, x):
        self.calls["infer"] += 1
        self.clock.advance_ms(self.h2d_ms + self.compute_ms + self.d2h_ms + self.pageable_ms)
        return x

    def sync(self) -> None:
        pass


class FakeCpuRunner(FakeGpuRunner):
    device = "cpu"

    def device_phases(self):
        return None


def test_split_headline_is_device_time_with_copies_and_end_to_end_beside_it():
    clock = FakeClock()
    a, b = FakeGpuRunner(clock, 3.0), FakeGpuRunner(clock, 7.0, h2d_ms=2.0)
    xs = random_inputs([1, 3, 4, 4], count=2)
    out = time_split({"a": a, "b": b}, {"a": xs, "b": xs}, config=QUICK, copy_config=QUICK, clock=clock)
    m = out["a"].to_metrics()
    assert m["latency_ms_p50"] == pytest.approx(3.0) and m["latency_ms_max"] == pytest.approx(3.0)
    assert m["latency_measure"] == "device_compute" and m["includes_host_copies"] is False
    assert m["h2d_ms_p50"] == pytest.approx(1.0) and m["d2h_ms_p50"] == pytest.approx(0.5)
    assert m["end_to_end_ms_p50"] == pytest.approx(1.0 + 3.0 + 0.5 + 2.0)
    assert m["h2d_gb_per_s"] == pytest.approx(3_000_000 / 1e-3 / 1e9) and m["d2h_gb_per_s"] == pytest.approx(4_000 / 0.5e-3 / 1e9)
    assert m["device_timer"] == "fake_events" and m["host_memory"] == "pinned" and m["h2d_bytes"] == 3_000_000
    mb = out["b"].to_metrics()
    assert mb["latency_ms_p50"] == pytest.approx(7.0) and mb["h2d_ms_p50"] == pytest.approx(2.0)
    assert mb["end_to_end_ms_p50"] == pytest.approx(2.0 + 7.0 + 0.5 + 2.0)
    # every step was prepared once, then timed: warm-up and at least `runs` samples each
    assert a.calls["prepare"] == 1 and a.calls["compute"] >= QUICK.warmup + QUICK.runs
    assert m["runs"] >= QUICK.runs and m["h2d_runs"] >= QUICK.runs and m["end_to_end_runs"] >= QUICK.runs


def test_a_runner_without_device_phases_is_timed_end_to_end_and_says_so():
    clock = FakeClock()
    gpu, cpu = FakeGpuRunner(clock, 3.0), FakeCpuRunner(clock, 4.0, h2d_ms=0.0, d2h_ms=0.0, pageable_ms=0.0)
    xs = random_inputs([1, 3, 4, 4], count=2)
    out = time_split({"gpu": gpu, "cpu": cpu}, {"gpu": xs, "cpu": xs}, config=QUICK, copy_config=None, clock=clock)
    m = out["cpu"].to_metrics()
    assert m["latency_ms_p50"] == pytest.approx(4.0) and m["latency_measure"] == "end_to_end"
    assert "h2d_ms_p50" not in m and out["gpu"].to_metrics()["latency_measure"] == "device_compute"
    assert gpu.calls["h2d"] == 0  # copy_config=None: no copy series


def test_profile_sessions_label_cpu_calls_and_unsplit_gpu_calls():
    from edgecnn.profile.sessions import measure_fields

    assert measure_fields({}, "cpu") == {"latency_measure": "host_call", "includes_host_copies": False}
    assert measure_fields({"latency_measure": "end_to_end"}, "cuda") == {"latency_measure": "end_to_end",
                                                                           "includes_host_copies": True}
    split = measure_fields({"latency_measure": "device_compute", "includes_host_copies": False,
                             "h2d_ms_p50": 1.0, "latency_ms_p50": 9.0}, "cuda")
    assert split == {"latency_measure": "device_compute", "includes_host_copies": False, "h2d_ms_p50": 1.0}


@pytest.fixture(scope="module")
def tiny_model():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 10)).eval()


@pytest.mark.parametrize("channels_last", [False, True])
def test_torch_runner_device_phases_compute_what_infer_computes(tiny_model, channels_last):
    import copy

    from edgecnn.runtime import TorchRunner

    x = random_inputs([2, 3, 6, 6], count=1)[0]
    r = TorchRunner(device="cpu", split=True, channels_last=channels_last, input_shape=[2, 3, 6, 6],
                    threads=1).load(copy.deepcopy(tiny_model))
    try:
        expected = r.infer(x)
        ph = r.device_phases()
        ph.prepare(x)
        fn, resident = r.resident()
        assert np.array_equal(resident.numpy(), x)  # the h2d step put the prepared array on the "device"
        assert ph.h2d_bytes == x.nbytes and ph.d2h_bytes == 2 * 10 * 4 and ph.host_memory.startswith("pageable")
        ph.compute()
        ph.d2h()
        np.testing.assert_allclose(r._host_out.numpy(), expected, rtol=1e-5, atol=1e-6)
        assert resident.is_contiguous(memory_format=__import__("torch").channels_last) == channels_last
    finally:
        r.close()
    plain = TorchRunner(device="cpu", input_shape=[2, 3, 6, 6], threads=1).load(copy.deepcopy(tiny_model))
    assert plain.device_phases() is None  # a CPU runner is a host call unless split is asked for
    plain.close()


def test_torch_runner_refuses_impossible_combinations():
    from edgecnn.runtime import RunnerUnsupported, TorchRunner

    with pytest.raises(RunnerUnsupported, match="do not combine"):
        TorchRunner(device="cuda", compile="default", cuda_graphs=True)
    with pytest.raises(RunnerUnsupported, match="mode 'fastest'"):
        TorchRunner(device="cpu", compile="fastest")


def test_torch_compile_configuration_records_its_compile_time(tiny_model):
    import copy

    from edgecnn.runtime import TorchRunner

    r = TorchRunner(device="cpu", compile="default", compile_backend="eager", input_shape=[1, 3, 6, 6],
                    threads=1, split=True).load(copy.deepcopy(tiny_model))
    try:
        d = r.describe()
        assert d["compile_mode"] == "default" and d["compile_backend"] == "eager" and d["compile_s"] > 0
        x = random_inputs([1, 3, 6, 6], count=1)[0]
        st = time_split({"c": r}, {"c": [x]}, config=QUICK, copy_config=QUICK)["c"]
        assert st.to_metrics()["latency_measure"] == "device_compute" and st.median_ms > 0
    finally:
        r.close()


def test_isolated_worker_times_the_compute_step_and_then_the_copies(tiny_model, tmp_path):
    import torch

    from edgecnn.runtime.workers import _Served

    path = tmp_path / "m.pt"
    torch.save(tiny_model, path)
    served = _Served("torch", {"device": "cpu", "split": True, "input_shape": [1, 3, 6, 6], "threads": 1})
    info = served.load(str(path), batch=1, size=6, split=True)
    assert info["split"] is True and info["device"] == "cpu"
    served.warmup(calls=2, seconds=0.0)
    samples = served.block(calls=4, seconds=0.0, prewarm=1)
    assert len(samples) >= 4 and all(s > 0 for s in samples)
    fields = served.copies({**QUICK.to_dict()})
    assert fields["h2d_bytes"] == 1 * 3 * 6 * 6 * 4 and fields["end_to_end_ms_p50"] > 0
    assert fields["h2d_runs"] >= QUICK.runs and fields["device_timer"] == "host_clock"
    served.runner.close()


def test_ratio_interval_and_verdict():
    assert ratio_interval([1.07]) == [1.07, 1.07]
    lo, hi = ratio_interval([0.98, 1.0, 1.02, 1.01, 0.99])
    assert 0.98 <= lo <= 1.0 <= hi <= 1.02
    assert ratio_verdict([lo, hi]) == "within 10 %"
    assert ratio_verdict([1.15, 1.3]) == "outside" and ratio_verdict([0.7, 0.85]) == "outside"
    assert ratio_verdict([0.95, 1.2]) == "cannot tell"
    assert ratio_verdict([0.97, 1.03], tolerance=0.05) == "within 5 %"
    with pytest.raises(ValueError):
        ratio_interval([])


def test_fidelity_against_the_plain_script_on_the_cpu(tiny_model):
    import copy

    from edgecnn.reference.fidelity import fidelity, plain_script
    from edgecnn.runtime import TorchRunner

    r = TorchRunner(device="cpu", split=True, input_shape=[1, 3, 6, 6], threads=1).load(copy.deepcopy(tiny_model))
    try:
        m = fidelity(r, block_s=0.01, min_rounds=3, max_rounds=4)
        fn, x = r.resident()
        assert len(plain_script(fn, x, seconds=0.0, warmup_s=0.0, min_runs=7)) == 7
    finally:
        r.close()
    assert 3 <= m["fidelity_rounds"] <= 4 and m["plain_ms_p50"] > 0
    lo, hi = m["fidelity_interval"]
    assert lo <= m["fidelity_ratio"] * 1.5 and hi >= m["fidelity_ratio"] / 1.5
    assert m["fidelity_verdict"] in ("within 10 %", "outside", "cannot tell")


def test_old_gpu_records_upgrade_to_say_they_timed_the_copies():
    from edgecnn.records import RecordStore

    lat = [r for r in RecordStore(REPO / "profiles").load(kind="latency", device="h200-box")
           if r.ok and r.source == "measured" and "cuda" in (r.variant or "")]
    assert lat and all(r.metrics["latency_measure"] == "end_to_end" and r.metrics["includes_host_copies"]
                       for r in lat)
    sep = [r for r in RecordStore(REPO / "profiles").load(kind="separable", device="h200-box") if r.ok]
    assert sep and all(r.metrics["latency_measure"] == "end_to_end" for r in sep)
