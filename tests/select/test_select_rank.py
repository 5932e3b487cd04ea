"""The ranking rule on small constructed option sets with closed-form answers
(which option wins, which budget binds and by how much), in milliseconds."""

from __future__ import annotations

import pytest

from edgecnn.errors import InvalidOptionError
from edgecnn.select import Constraints, Option, rank
from edgecnn.select.evidence import Accuracy, Parity
from edgecnn.select.recommend import front_of

BAND = {"validated": True, "within_10_pct": 40.0, "within_25_pct": 80.0, "median_abs_error": 0.15,
        "p90_abs_error": 0.5, "models": 5}


def opt(name: str, ms: float | None, top1: float | None, *, source: str = "measured", tier: str = "measured",
        size: float = 1e6, memory: float = 50.0, p90: float | None = None, parity: str | None = "ok",
        band: dict | None = None) -> Option:
    return Option(device="dev", model=name, weights="ckpt.pt", runtime="onnxruntime", format="onnx",
                  precision="fp32", batch=1, input_shape=[3, 32, 32], variant=None, status="ok", source=source,
                  latency_ms=ms, statistic="p50", latency_p90_ms=p90, error_band=band,
                  accuracy=Accuracy(top1, tier if top1 is not None else "none", tier, None, "cifar10"),
                  parity=Parity(parity), size_bytes=size, size_from="artifact_bytes", memory_mb=memory,
                  memory_from="memory_peak_mb", record=None)


def names(sel) -> list[str]:
    return [o.model for o in sel.ranked]


def test_by_accuracy_under_a_latency_budget_ties_by_latency():
    sel = rank([opt("a", 1.0, 60), opt("b", 3.0, 70), opt("c", 2.0, 70), opt("d", 9.0, 90)],
               Constraints(max_latency_ms=5), "dev")
    assert names(sel) == ["c", "b", "a"] and [o.model for o in sel.excluded] == ["d"]
    assert sel.excluded[0].reasons[0].text == "p50 9 ms > 5 ms"


def test_by_latency_under_an_accuracy_floor_ties_by_accuracy():
    sel = rank([opt("a", 1.0, 60), opt("b", 2.0, 75), opt("c", 2.0, 80), opt("d", 0.5, 50)],
               Constraints(min_top1=70), "dev")
    assert names(sel) == ["c", "b"]
    assert {o.model: o.reasons[0].code for o in sel.excluded} == {"a": "accuracy", "d": "accuracy"}


def test_measured_before_predicted_and_a_better_prediction_is_named_as_a_challenger():
    sel = rank([opt("m", 4.0, 70), opt("p", 1.0, 80, source="predicted", band=BAND)], Constraints(max_latency_ms=5),
               "dev")
    assert names(sel) == ["m", "p"] and [o.model for o in sel.challengers] == ["p"]


def test_published_accuracy_ranks_after_measured_and_unknown_last():
    sel = rank([opt("pub", 1.0, 90, tier="published"), opt("meas", 2.0, 60), opt("unk", 0.5, None),
                opt("par", 3.0, 65, tier="pytorch_fp32_parity")], Constraints(max_latency_ms=5), "dev")
    assert names(sel) == ["par", "meas", "pub", "unk"]


def test_a_failed_parity_or_a_missing_figure_excludes_whatever_the_figures():
    sel = rank([opt("bad", 0.1, 99, parity="validation_failed"), opt("ok", 4.0, 50), opt("none", None, 70),
                opt("unk", 1.0, None)], Constraints(min_top1=40), "dev")
    assert names(sel) == ["ok"]
    why = {o.model: [r.code for r in o.reasons] for o in sel.excluded}
    assert why == {"bad": ["parity"], "none": ["no_latency"], "unk": ["accuracy_unknown"]}
    assert sel.reason_counts() == {"export did not pass parity": 1, "no top-1 figure": 1,
                                   "no latency figure (not measured or failed)": 1}


def test_one_budget_that_nothing_meets_names_the_closest_and_its_miss():
    sel = rank([opt("a", 1.0, 60), opt("b", 3.0, 70)], Constraints(max_latency_ms=0.5), "dev")
    assert sel.chosen is None
    assert sel.message.startswith("no option meets --max-latency-ms 0.5: closest is a onnxruntime onnx fp32 b1")
    assert "0.5 ms (100 %) over" in sel.message
    assert sel.binding[0]["miss"] == pytest.approx(0.5) and sel.binding[0]["relative"] == pytest.approx(1.0)


def test_budgets_met_alone_but_not_together_name_the_smallest_total_miss():
    # a: fast and big; b: slow and small. a misses the size by 400 %, b the latency by 150 %: b is closest
    sel = rank([opt("a", 1.0, 60, size=10e6), opt("b", 5.0, 60, size=1e6)],
               Constraints(max_latency_ms=2, max_size_mb=2), "dev")
    assert sel.chosen is None and "each alone is met" in sel.message
    assert "the closest, b onnxruntime onnx fp32 b1" in sel.message and "--max-latency-ms: p50 5 ms > 2 ms" in sel.message
    [b] = sel.binding
    assert b["constraint"] == "--max-latency-ms" and b["miss"] == pytest.approx(3.0)


def test_the_tail_budget_reads_p90_and_excludes_options_without_one():
    sel = rank([opt("a", 1.0, 60, p90=6.0), opt("b", 2.0, 60, p90=3.0), opt("c", 1.0, 60)],
               Constraints(max_latency_ms=5, tail=True), "dev")
    assert names(sel) == ["b"]
    assert {o.model: o.reasons[0].code for o in sel.excluded} == {"a": "latency", "c": "latency_unknown"}


def test_a_prediction_says_whether_the_budget_holds_at_the_bands_pessimistic_end():
    p = opt("p", 8.0, 60, source="predicted", band=BAND)  # pessimistic end: 8 x 1.5 = 12 ms
    assert p.pessimistic_ms() == pytest.approx(12.0)
    assert rank([p], Constraints(max_latency_ms=10), "dev").band_verdict(p).startswith("does NOT hold")
    assert rank([p], Constraints(max_latency_ms=13), "dev").band_verdict(p).startswith("holds")
    q = opt("q", 8.0, 60, source="predicted", band={"validated": False, "note": "pure roofline"})
    sel = rank([q], Constraints(max_latency_ms=10), "dev")
    assert sel.band_verdict(q).startswith("cannot be checked") and "pure roofline" in sel.notes[0]


def test_the_front_keeps_ties_and_drops_the_dominated():
    a, b, c, d = opt("a", 1.0, 60), opt("b", 1.0, 60), opt("c", 2.0, 70), opt("d", 2.0, 65)
    bad = opt("bad", 0.1, 99, parity="export_failed")
    rank([a, b, c, d, bad], Constraints(), "dev")
    assert front_of([a, b, c, d, bad]) == {id(a), id(b), id(c)}


@pytest.mark.parametrize("kwargs, says", [
    (dict(max_latency_ms=-1), "--max-latency-ms must be a positive number"),
    (dict(max_latency_ms=0), "--max-latency-ms must be a positive number"),
    (dict(max_size_mb=-2), "--max-size-mb must be a positive number"),
    (dict(max_memory_mb=float("nan")), "--max-memory-mb must be a positive number"),
    (dict(min_top1=120), "--min-top1 is a top-1 in percent"),
    (dict(tail=True), "--tail checks the latency budget against p90: give --max-latency-ms"),
    (dict(batch=0), "--batch must be a whole number >= 1"),
    (dict(rank_by="speed"), "--rank-by must be accuracy or latency"),
])
def test_bad_constraints_are_user_errors(kwargs, says):
    with pytest.raises(InvalidOptionError, match=says.replace("(", r"\(").replace(")", r"\)")):
        Constraints(**kwargs)
