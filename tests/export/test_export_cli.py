"""`edgecnn export` as a user runs it: a real run, --to all, exit codes, and
every kind of bad input as one `error:` line with exit code 2 and no file."""

from __future__ import annotations

import importlib.util
import json

import pytest

from edgecnn.export.tensorrt import tensorrt_available
from edgecnn.records import RecordStore
from export_helpers import artifacts, one_line_error


def test_export_from_a_shell(cli, tmp_path, cifar10_archive):
    """A new user in an empty folder: artifacts and records land where --out / --profiles say."""
    r = cli("export", "lenet5", "--to", "onnx", "--out", "art", "--profiles", "prof", "--n-images", "40",
            "--data-dir", cifar10_archive, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "random weights" in r.stderr and "exporting lenet5 (32x32, batch 1) to onnx fp32" in r.stderr
    assert "parity on 40 cifar10 test images" in r.stderr and "Traceback" not in r.stderr
    assert "edgecnn export lenet5" in r.stdout and " ok " in r.stdout
    assert artifacts(tmp_path / "art") == ["lenet5-32-fp32.onnx", "lenet5-32-fp32.onnx.json"]
    (rec,) = RecordStore(tmp_path / "prof").load(kind="export")
    assert rec.ok and rec.metrics["n_images"] == 40 and rec.metrics["max_abs_diff"] <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "prof"]  # nothing else written


@pytest.mark.tflite
@pytest.mark.slow  # ~60 s; tests/real_records.py runs `export lenet5 --to all` (fp32) in the default run
def test_to_all_exports_every_format_that_takes_the_precision(main_cli, dirs, cifar10_archive):
    pytest.importorskip("litert_torch")
    out, prof = dirs
    r = main_cli("export", "lenet5", "--to", "all", "--out", out, "--profiles", prof, "--n-images", "30",
                 "--data-dir", cifar10_archive, "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    installed = [f for f, mod in (("executorch", "executorch.exir"), ("mnn", "MNN"), ("ncnn", "pnnx"),
                                  ("openvino", "openvino")) if importlib.util.find_spec(mod.split(".")[0])]
    assert sorted(x["format"] for x in rows) == sorted(["onnx", "tensorrt", "tflite", *installed])
    # a TensorRT build that only ONNX Runtime could check is 'prepared' where TensorRT is not installed
    want = {f: "prepared" if f == "tensorrt" and not tensorrt_available() else "ok" for f in (x["format"] for x in rows)}
    assert all(x["status"] == want[x["format"]] and x["max_abs_diff"] <= x["max_abs_diff_bound"] for x in rows), [
        (x["format"], x["status"], x["error"]) for x in rows]
    if not tensorrt_available():
        assert "--to all prepares the TensorRT build" in r.stderr
        assert "lenet5-32-fp32-trtexec.sh" in artifacts(out)
    assert {"lenet5-32-fp32.onnx", "lenet5-32-fp32.tflite"} <= set(artifacts(out))
    assert len(RecordStore(prof).load(kind="export")) == 3 + len(installed)

    dyn = main_cli("export", "lenet5", "--to", "all", "--precision", "int8_dynamic", "--out", out,
                   "--profiles", prof, "--n-images", "30", "--data-dir", cifar10_archive, "--json")
    assert dyn.returncode == 0, dyn.stderr
    assert [x["format"] for x in json.loads(dyn.stdout)] == ["tflite"]  # the only format with int8_dynamic


def test_validation_failed_prints_the_figures_and_exits_1(main_cli, dirs, tmp_path, cifar10_archive):
    """An untrained checkpoint (BatchNorm statistics never estimated) has ~1e-9 logits:
    parity would be vacuous, so the export is kept but marked validation_failed."""
    import torch

    from edgecnn.models import create_model

    torch.save(create_model("mobilenet_v3_small", input_size=32, num_classes=10).state_dict(), tmp_path / "u.pt")
    out, prof = dirs
    r = main_cli("export", "mobilenet_v3_small", "--checkpoint", tmp_path / "u.pt", "--input-size", "32",
                 "--num-classes", "10", "--out", out, "--profiles", prof, "--n-images", "20",
                 "--data-dir", cifar10_archive)
    assert r.returncode == 1
    assert "validation_failed" in r.stdout and "degenerate" in r.stdout
    assert r.stderr.strip().splitlines()[-1].startswith("error: 1 of 1 export(s) not ok: onnx fp32 validation_failed")
    (rec,) = RecordStore(prof).load(kind="export")
    assert rec.status == "validation_failed" and rec.metrics["reference_logit_absmax"] < 1e-6
    assert json.loads((out / "mobilenet_v3_small-32-fp32.onnx.json").read_text())["status"] == "validation_failed"


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    """A resnet18 state dict (the wrong architecture for lenet5), a corrupt file, a plain file."""
    import torch

    from edgecnn.models import create_model

    root = tmp_path_factory.mktemp("bad")
    torch.save(create_model("resnet18", input_size=32, num_classes=10).state_dict(), root / "resnet18.pt")
    (root / "corrupt.pt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    (root / "afile").write_text("x")
    return root


BAD = [
    (["--to", "onyx"], ["unknown format 'onyx'", "did you mean: onnx"]),
    (["--to", "onnx,tflitee"], ["unknown format 'tflitee'", "did you mean: tflite"]),
    (["--to", "all,onnx"], ["--to all stands alone"]),
    (["--to", ","], ["names no format"]),
    # a list is what it names: no TensorRT here means --prepare-only, as for `--to tensorrt` (only `all` prepares)
    *([(["--to", "onnx,tensorrt"], ["TensorRT is not installed here", "--prepare-only"])]
      if not tensorrt_available() else []),
    (["--to", "onnx", "--precision", "int4"], ["unknown precision 'int4'"]),
    (["--to", "all", "--precision", "fp8"], ["unknown precision 'fp8'"]),
    (["--to", "onnx", "--precision", "fp16"], ["onnx export cannot do precision 'fp16'", "fp16 is available with --to",
                                               "tensorrt, tflite"]),
    (["--to", "ncnn", "--precision", "int8"], ["ncnn export cannot do precision 'int8'", "(it does fp32, fp16)",
                                             "openvino"]),
    (["--to", "executorch", "--precision", "bf16"], ["executorch export cannot do precision 'bf16'",
                                                   "bf16 is available with --to openvino"]),
    (["--to", "mnn", "--precision", "int8_dynamic"], ["mnn export cannot do precision 'int8_dynamic'"]),
    (["--to", "tensorrt", "--precision", "int8_dynamic", "--prepare-only"], ["tensorrt export cannot do"]),
    (["--to", "tflite", "--dynamic-batch"], ["tflite export does not take option(s) ['dynamic_batch']"]),
    (["--to", "onnx", "--prepare-only"], ["does not take option(s) ['prepare_only']"]),
    (["--to", "onnx", "--opset", "3"], ["opset 3 is out of range"]),
    (["--to", "onnx", "--precision", "int8", "--opset", "11"], ["needs >= 13"]),
    (["--to", "onnx", "--exporter", "jit"], ["unknown ONNX exporter 'jit'"]),
    (["--to", "onnx", "--batch", "0"], ["batch must be >= 1"]),
    (["--to", "onnx", "--n-images", "0"], ["--n-images must be >= 1"]),
    (["--to", "onnx", "--checkpoint", "{root}/resnet18.pt"], ["does not fit lenet5", "another architecture"]),
    (["--to", "onnx", "--checkpoint", "{root}/corrupt.pt"], ["cannot read checkpoint"]),
    (["--to", "onnx", "--checkpoint", "{root}/missing.pt"], ["does not exist"]),
    (["--to", "onnx", "--out", "{root}/afile"], ["cannot write to output folder", "not a folder"]),
    (["--to", "onnx", "--out", "{root}/afile/sub"], ["cannot write to output folder", "is a file"]),
    (["--to", "onnx", "--data-dir", "{root}/no-such-data"], ["data folder", "does not exist"]),
    (["--to", "onnx", "--calibration-images", "0"], ["--calibration-images must be >= 1"]),
    (["--to", "onnx,tflite", "--jobs", "0"], ["--jobs"]),
]


@pytest.mark.parametrize("args, words", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_nothing_written(main_cli, dirs, bad_files, cifar10_archive, args, words):
    out, prof = dirs
    args = [a.format(root=bad_files) for a in args]
    if "--out" not in args:
        args += ["--out", str(out)]
    if "--data-dir" not in args:
        args += ["--data-dir", str(cifar10_archive)]
    r = main_cli("export", "lenet5", *args, "--profiles", prof)
    one_line_error(r, *words)
    assert not out.exists() and not prof.exists()  # not even an empty folder


@pytest.mark.tflite
def test_unwritable_out_is_one_line_before_the_tflite_backend_loads(cli, bad_files):
    """In a fresh process the first litert import logs to stderr from C++; the folder
    check comes first, so the user sees only the error line."""
    pytest.importorskip("litert_torch")
    r = cli("export", "lenet5", "--to", "tflite", "--out", bad_files / "afile" / "sub")
    one_line_error(r, "cannot write to output folder", "is a file")


def test_unknown_model_suggests_names(main_cli, dirs):
    r = main_cli("export", "mobilenet_v3", "--out", dirs[0])
    one_line_error(r, "unknown model 'mobilenet_v3'", "mobilenet_v3_small")


@pytest.mark.skipif(tensorrt_available(), reason="TensorRT is installed here")
def test_tensorrt_without_tensorrt_is_one_line_unless_prepare_only(main_cli, dirs):
    r = main_cli("export", "lenet5", "--to", "tensorrt", "--out", dirs[0], "--profiles", dirs[1])
    one_line_error(r, "TensorRT is not installed", "--prepare-only")
    assert not dirs[0].exists()


def test_formats_lists_what_each_format_builds_and_the_tolerances(main_cli):
    r = main_cli("formats", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    by_name = {f["format"]: f for f in data["formats"]}
    assert by_name["onnx"]["precisions"] == ["fp32", "int8"] and by_name["onnx"]["suffix"] == ".onnx"
    assert by_name["tflite"]["precisions"] == ["fp32", "fp16", "int8", "int8_dynamic"]
    assert by_name["tensorrt"]["runtime"] == "tensorrt" and "prepare_only" in by_name["tensorrt"]["options"]
    assert data["tolerances"]["fp32"] == {"max_abs_diff": 1e-4}
