"""Where INT8 pays: the verdict every timed INT8 export record carries, and the
per-device summary ``report`` and ``select`` print from those records.

The record checks read the INT8 exports the real commands wrote
(``real_records``: ``edgecnn export lenet5 --precision int8 --to onnx,tflite``
with the speed-up timed); the verdict's branches are arithmetic.
"""

from __future__ import annotations

import pytest

from edgecnn.cost.engine import count_model
from edgecnn.export.int8_pays import EVEN, break_even, summaries, verdict
from edgecnn.join import newest
from edgecnn.records import RecordStore


def timed_int8(profiles):
    recs = newest(RecordStore(profiles).load(kind="export"))[0]
    return [r for r in recs if r.precision == "int8" and isinstance(r.metrics.get("speedup"), float)]


def test_every_timed_int8_export_says_whether_int8_paid(real_records):
    timed = timed_int8(real_records.profiles)
    assert {r.format for r in timed} >= {"onnx", "tflite"}
    for r in timed:
        m = r.metrics
        side = r.input_shape[-1]
        assert m["speedup_macs"] == count_model("lenet5", side).totals["conv_linear_macs"] * r.batch
        assert m["int8_pays"] is (m["speedup"] >= 1.0 + EVEN)
        assert f"{m['speedup']:.2f}x" in m["int8_verdict"]
        assert f"{m['speedup_macs'] / 1e6:.1f} MMACs per call" in m["int8_verdict"]
        assert m["int8_verdict"].startswith("INT8 pays" if m["int8_pays"] else "INT8 is")


def test_the_summary_counts_the_device_records_per_runtime(real_records):
    timed = timed_int8(real_records.profiles)
    said = summaries(newest(RecordStore(real_records.profiles).load())[0], "local")
    for rt in {r.metrics["parity_runtime"] for r in timed}:
        mine = [r.metrics["speedup"] for r in timed if r.metrics["parity_runtime"] == rt]
        faster = sum(s >= 1.0 + EVEN for s in mine)
        assert said[rt].startswith(f"INT8 on {rt}: {faster} of {len(mine)} measured exports faster than FP32")
        lo, hi = f"{min(mine):.2f}", f"{max(mine):.2f}"
        span = f"{lo}x" if lo == hi else f"{lo}-{hi}x"
        assert f"(speed-up {span})" in said[rt]
    assert summaries(RecordStore(real_records.profiles).load(), "another-device") == {}


@pytest.mark.parametrize("speedup, pays, start", [(1.89, True, "INT8 pays here: 1.89x faster"),
                                                  (0.85, False, "INT8 is slower than FP32 here: 0.85x"),
                                                  (1.02, False, "INT8 is no faster than FP32 here: 1.02x")])
def test_the_verdict_has_three_outcomes(speedup, pays, start):
    v = verdict(speedup, 17_500_000, "onnxruntime", 1, 32, noisy=speedup < 1)
    assert v["int8_pays"] is pays and v["int8_verdict"].startswith(start)
    assert "17.5 MMACs per call" in v["int8_verdict"]
    assert ("noisy" in v["int8_verdict"]) is (speedup < 1)


def test_break_even_is_where_every_larger_call_was_faster():
    assert break_even([(5e6, 0.8), (20e6, 1.1), (10e6, 0.9), (40e6, 1.3)]) == 20e6
    assert break_even([(5e6, 1.2), (20e6, 0.9)]) is None  # the largest call was not faster
    assert break_even([(5e6, 1.2), (20e6, 1.4)]) == 5e6
    assert break_even([]) is None
