"""The report's accuracy axis: a measured accuracy record replaces the published
figure of the same model on the published figure's dataset, and the note says
which weights gave the point."""

from __future__ import annotations

from edgecnn.records import Record, RecordStore
from edgecnn.report.collect import Lookup, latency_points, load


def _accuracy(top1, dataset="imagenet", weights="IMAGENET1K_V1", created="2026-01-02T00:00:00+00:00", **kw):
    metrics = {"top1": top1, "n_images": 50000, "weights": weights,
               "weights_source": f"torchvision ResNet18_Weights.{weights}"}
    return Record(kind="accuracy", model="resnet18", runtime="torch", format="pytorch", input_shape=[3, 224, 224],
                  dataset=dataset, variant=f"weights:{weights}", metrics=metrics, created_at=created, **kw)


def _latency():
    return Record(kind="latency", model="resnet18", runtime="onnxruntime", format="onnx", input_shape=[3, 224, 224],
                  metrics={"latency_ms_p50": 20.0, "runs": 20})


def _lookup(tmp_path, *records):
    from edgecnn.profile.records import published_accuracy

    store = RecordStore(tmp_path / "p")
    store.append(published_accuracy("resnet18", 224, 1000, "local"))
    store.append(_latency())
    for r in records:
        store.append(r)
    data = load(tmp_path / "p")
    return data, Lookup(data)


def test_the_published_figure_names_its_weights_and_stays_without_a_measurement(tmp_path):
    data, look = _lookup(tmp_path)
    acc, note = look.accuracy_for(_latency())
    assert acc.source == "published" and acc.metric("weights") == "IMAGENET1K_V1" and acc.metric("top1") == 69.758
    assert note.startswith("published imagenet top-1, not measured here") and "IMAGENET1K_V1" in note


def test_a_measured_record_on_imagenet_replaces_it_and_says_which_weights(tmp_path):
    partial = _accuracy(93.0, dataset="imagenet-partial", created="2026-01-03T00:00:00+00:00")
    data, look = _lookup(tmp_path, _accuracy(69.5), partial)
    acc, note = look.accuracy_for(_latency())
    assert acc.source == "measured" and acc.metric("top1") == 69.5  # 10 classes of a folder do not replace it
    assert note == ("pytorch fp32, weights IMAGENET1K_V1 (torchvision ResNet18_Weights.IMAGENET1K_V1) "
                    "(no onnx fp32 accuracy record)")
    (point,) = latency_points(data, look)
    assert point["top1"] == 69.5 and "IMAGENET1K_V1" in point["acc_note"]


def test_records_of_the_weights_an_export_names_come_first(tmp_path):
    v2 = _accuracy(80.1, weights="IMAGENET1K_V2")
    v1 = _accuracy(69.5, created="2026-01-05T00:00:00+00:00")  # newer, but other weights
    data, look = _lookup(tmp_path, v2, v1)
    export = Record(kind="export", model="resnet18", runtime="onnxruntime", format="onnx", input_shape=[3, 224, 224],
                    metrics={"weights": "IMAGENET1K_V2"})
    acc, note = look.accuracy_for(export)
    assert acc.metric("top1") == 80.1 and "weights IMAGENET1K_V2" in note
    acc, _ = look.accuracy_for(_latency())  # a latency record names no weights: the newest measurement
    assert acc.metric("top1") == 69.5
