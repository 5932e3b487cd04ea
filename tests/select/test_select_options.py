"""How options are joined from records: whose weights, which accuracy, which
export verdict (records built in memory and checked against the schema)."""

from __future__ import annotations

from edgecnn.records import Record
from edgecnn.schema import validate
from edgecnn.select import Constraints, build_options, rank

SHAPE = [3, 32, 32]


def rec(kind: str, status: str = "ok", **kw) -> Record:
    metrics = kw.pop("metrics", {})
    r = Record(kind=kind, model=kw.pop("model", "lenet5"), status=status, input_shape=SHAPE, metrics=metrics, **kw)
    validate(r)
    return r


def latency(runtime: str, fmt: str, precision: str = "fp32", ms: float = 1.0, **kw) -> Record:
    m = {"latency_ms_p50": ms, "artifact_bytes": 1000, "memory_peak_mb": 50.0}
    if kw.get("source") == "predicted":
        m.update(predicted=True, prediction_reason="unreachable", compute_unit="cpu")
    return rec("latency", runtime=runtime, format=fmt, precision=precision, metrics=m, **kw)


def export(fmt: str, precision: str, status: str, path: str, ckpt: str = "runs/a/best.pt") -> Record:
    return rec("export", status, runtime={"onnx": "onnxruntime", "tflite": "litert"}.get(fmt, "tensorrt"), format=fmt,
               precision=precision, dataset="cifar10",
               metrics={"weights": "checkpoint", "checkpoint": ckpt, "path": path, "file_bytes": 900,
                        "n_images": 100, "parity_runtime": "onnxruntime", "top1_agreement": 99.0},
               error=None if status in ("ok", "prepared") else "top1_agreement 80 not >= 90")


def accuracy(fmt: str, precision: str, top1: float, target: str, **kw) -> Record:
    return rec("accuracy", runtime="torch", format=fmt, precision=precision, dataset="cifar10",
               metrics={"top1": top1, "target": target, "n_images": 1000}, **kw)


def by_label(options):
    return {(o.runtime, o.precision, o.weights): o for o in options}


def test_an_evaluated_artifact_is_traced_to_the_checkpoint_it_was_exported_from():
    records = [latency("onnxruntime", "onnx", "int8"), latency("torch", "pytorch"),
               export("onnx", "int8", "ok", "export/lenet5-32-int8.onnx"),
               accuracy("onnx", "int8", 47.0, "export/lenet5-32-int8.onnx"),
               accuracy("pytorch", "fp32", 48.0, "runs/a/best.pt")]
    opts = by_label(build_options(records, "local"))
    int8 = opts[("onnxruntime", "int8", "runs/a/best.pt")]
    assert (int8.top1, int8.accuracy.tier) == (47.0, "measured")
    torch = opts[("torch", "fp32", "runs/a/best.pt")]
    assert (torch.top1, torch.accuracy.tier) == (48.0, "measured")
    assert len(opts) == 2


def test_pytorch_fp32_accuracy_stands_in_only_behind_a_passed_parity_check():
    records = [latency("onnxruntime", "onnx"), latency("litert", "tflite"), latency("litert", "tflite", "int8"),
               export("onnx", "fp32", "ok", "e/m.onnx"), export("tflite", "fp32", "validation_failed", "e/m.tflite"),
               accuracy("pytorch", "fp32", 48.0, "runs/a/best.pt")]
    sel = rank(build_options(records, "local"), Constraints(), "local")
    opts = by_label(sel.options)
    onnx = opts[("onnxruntime", "fp32", "runs/a/best.pt")]
    assert onnx.top1 == 48.0 and onnx.accuracy.tier == "pytorch_fp32_parity" and "passed parity" in onnx.accuracy.note
    tfl = opts[("litert", "fp32", "runs/a/best.pt")]
    assert tfl.top1 is None and [r.code for r in tfl.reasons] == ["parity"]
    # no export of these weights to tflite int8 at all: nothing ties them to it, the option has unknown weights
    assert opts[("litert", "int8", None)].top1 is None


def test_a_published_figure_is_labelled_and_a_failed_export_of_any_weights_excludes_it():
    pub = rec("accuracy", model="resnet18", runtime="torch", format="pytorch", dataset="imagenet", source="published",
              variant="published", metrics={"top1": 69.758, "reference": "torchvision"})
    failed = export("onnx", "int8", "validation_failed", "e/r.onnx")
    failed.model = "resnet18"
    failed.metrics.update(weights="random", checkpoint=None)
    records = [latency("onnxruntime", "onnx", model="resnet18"), latency("onnxruntime", "onnx", "int8",
               model="resnet18"), pub, failed]
    sel = rank(build_options(records, "local"), Constraints(), "local")
    opts = by_label(sel.options)
    fp32 = opts[("onnxruntime", "fp32", "published")]
    assert fp32.top1 == 69.758 and fp32.accuracy.tier == "published" and "torchvision" in fp32.accuracy.note
    assert [r.code for r in opts[("onnxruntime", "int8", "published")].reasons] == ["parity"]


def test_an_unreachable_device_gives_options_with_no_latency_and_no_measured_source():
    [opt] = build_options([rec("latency", "unreachable", runtime="onnxruntime", format="onnx", device="jet",
                               error="ssh: connect refused")], "jet")
    assert (opt.source, opt.latency_ms) == ("none", None) and opt.to_dict()["latency_source"] == "none"
    sel = rank([opt], Constraints(), "jet")
    assert sel.ranked == [] and [r.code for r in sel.excluded[0].reasons] == ["no_latency"]


def test_a_prediction_replaces_the_failed_attempt_and_untimed_builds_are_listed():
    records = [latency("onnxruntime", "onnx", device="jet", source="predicted", variant="predicted"),
               rec("latency", "unreachable", runtime="onnxruntime", format="onnx", device="jet",
                   error="ssh: connect refused"),
               rec("latency", "unsupported", runtime="tensorrt", format="engine", device="jet",
                   model="resnet18", error="tensorrt does not import"),
               export("tensorrt", "fp32", "prepared", "e/lenet5-32-fp32-trt.onnx")]
    sel = rank(build_options(records, "jet"), Constraints(), "jet")
    assert [o.source for o in sel.ranked] == ["predicted"]
    why = {(o.model, o.runtime): o.reasons[0].code for o in sel.excluded}
    assert why == {("resnet18", "tensorrt"): "no_latency", ("lenet5", "tensorrt"): "untimed"}
