"""`edgecnn export` and `edgecnn formats`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgecnn.errors import EdgeCNNError, InvalidOptionError


class ExportNotOk(EdgeCNNError):
    """Some export failed or missed its parity tolerance: exit 1 after the table (2 is for bad input)."""

    exit_code = 1


def _formats_for(to: str, precision: str) -> list[str]:
    """``all`` (every format that takes the precision), one format, or a comma-separated list of formats
    (each checked, and the precision with it: an unknown name is one line with the closest). From the
    generated format table (``cli/catalog.py``): no exporter is imported."""
    from edgecnn.cli.catalog import check_precision, format_names, format_rows

    if to == "all":
        check_precision([], precision)
        return [r["format"] for r in format_rows() if precision in r["precisions"]]
    names = list(dict.fromkeys(n.strip() for n in to.split(",") if n.strip()))
    if not names:
        raise InvalidOptionError(f"--to {to!r} names no format (see `edgecnn formats`)")
    if "all" in names:
        raise InvalidOptionError("--to all stands alone (or list the formats: --to onnx,tflite)")
    known = format_names()
    for name in names:
        known.get(name)
    check_precision(names, precision)
    return names


def export_format(target: str, fmt: str, kwargs: dict) -> object:
    """One format of `edgecnn export` (module level: a helper process runs it by name)."""
    from edgecnn.console import err_console, warn
    from edgecnn.export import export_model

    return export_model(target, to=fmt, log=lambda m: err_console.print(m, highlight=False, markup=False),
                        warn=warn, **kwargs)


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_cmd(
        model: str = typer.Argument(..., help="Zoo name (see `edgecnn models`), .pt2/.pt file, "
                                    "package.module:callable or timm:<name>."),
        to: str = typer.Option("onnx", "--to", help="onnx | tflite | tensorrt | openvino | executorch | ncnn | mnn "
                               "| all, or a comma-separated list (onnx,tflite; see `edgecnn formats`)."),
        precision: str = typer.Option("fp32", "--precision", help="fp32 | fp16 | bf16 (OpenVINO) | int8 | "
                                      "int8_dynamic (TFLite)."),
        checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Trained weights: a full checkpoint "
                                                  "or a state dict (a `train --qat` checkpoint: --precision int8 "
                                                  "with its trained scales, onnx/tflite/openvino/executorch). "
                                                  "Without it or --weights: random weights (a warning)."),
        weights: Optional[str] = typer.Option(None, "--weights", help="Pretrained weights: a torchvision name "
                                              "(DEFAULT, IMAGENET1K_V1, ...), a timm tag or a file (.pth, .pt, "
                                              ".safetensors). Read from $TORCH_HOME/hub/checkpoints/; their "
                                              "preprocessing goes into the metadata, parity and calibration."),
        input_size: Optional[int] = typer.Option(None, "--input-size",
                                                 help="Input side in pixels (32 = CIFAR variant; with --checkpoint: "
                                                      "the side it was trained at unless --force-input-size)."),
        force_input_size: bool = typer.Option(False, "--force-input-size", help="Export a checkpoint at another "
                                              "--input-size than it was trained at (the record notes it)."),
        num_classes: Optional[int] = typer.Option(None, "--num-classes"),
        batch: int = typer.Option(1, "--batch", help="Export batch size."),
        out: Path = typer.Option(Path("export"), "--out", help="Output folder for artifacts and metadata."),
        opset: Optional[int] = typer.Option(None, "--opset", help="ONNX opset (onnx, tensorrt; default 17)."),
        dynamic_batch: bool = typer.Option(False, "--dynamic-batch", help="Symbolic batch dimension (onnx, tensorrt)."),
        no_simplify: bool = typer.Option(False, "--no-simplify", help="Skip onnxscript graph simplification."),
        exporter: Optional[str] = typer.Option(None, "--exporter", help="torch.onnx exporter: torchscript | dynamo."),
        prepare_only: bool = typer.Option(False, "--prepare-only", help="TensorRT: write the TensorRT-ready ONNX and "
                                          "a trtexec build script for the target instead of building here."),
        workspace_mib: Optional[int] = typer.Option(None, "--workspace-mib", help="TensorRT builder workspace (MiB)."),
        n_images: int = typer.Option(100, "--n-images", help="Real test images for the parity check."),
        calibration_images: int = typer.Option(128, "--calibration-images",
                                               help="Real training images for INT8 calibration / BatchNorm."),
        calibration_dir: Optional[Path] = typer.Option(None, "--calibration-dir", help="INT8: calibrate on up to "
                                                       "--calibration-images images from this folder (any layout), "
                                                       "prepared as the weights expect."),
        dataset: str = typer.Option("cifar10", "--dataset", help="cifar10 | cifar100 | imagefolder."),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Dataset folder or archive."),
        quant_method: Optional[str] = typer.Option(None, "--quant-method", help="INT8 method (onnx: auto | "
                                                   "per-tensor | per-channel | entropy | percentile | reduce-range "
                                                   "| u8u8 | nncf | nncf-bc | cle-nncf-bc; tflite: min-max | mse; "
                                                   "`edgecnn quantize-methods`)."),
        max_drop: Optional[float] = typer.Option(None, "--max-drop", help="INT8 top-1 budget in points: keep the "
                                                 "most sensitive layers in float until the drop on held-out "
                                                 "training images is within it (onnx, tflite)."),
        keep_float: Optional[str] = typer.Option(None, "--keep-float", help="Comma-separated layer (node) names "
                                                 "to leave in float (onnx, tflite; see `edgecnn quantize-report`)."),
        search_images: Optional[int] = typer.Option(None, "--search-images", help="Training images the "
                                                    "--max-drop search measures on (default 2000)."),
        qat_epochs: Optional[int] = typer.Option(None, "--qat-epochs", min=0, help="--max-drop: where PTQ and mixed "
                                                 "precision miss the budget, fine-tune --checkpoint with fake "
                                                 "quantisation for this many epochs and export that (default 1; "
                                                 "0: never)."),
        qat_images: Optional[int] = typer.Option(None, "--qat-images", min=1, help="--max-drop: training images "
                                                 "of that fine-tune (default: the whole training set)."),
        no_speedup: bool = typer.Option(False, "--no-speedup", help="INT8: skip timing against the FP32 twin."),
        no_validate: bool = typer.Option(False, "--no-validate", help="Skip the parity check."),
        jobs: Optional[int] = typer.Option(None, "--jobs", min=1, help="Several formats: export this many at a "
                                           "time, this process and N-1 helper processes (default 2, or 1 on one "
                                           "core; 1 when an INT8 export times its speed-up)."),
        profiles: Path = typer.Option(Path("profiles"), "--profiles", help="Record store folder."),
        json_out: bool = typer.Option(False, "--json", help="Print the export records as JSON."),
    ) -> None:
        """Export MODEL to ONNX, TFLite, TensorRT, OpenVINO, ExecuTorch, NCNN or MNN and check it against PyTorch
        on real images."""
        # The model, formats and options are checked before torch and the exporters load (seconds).
        from edgecnn.cli.quiet import third_party_log
        from edgecnn.console import print_json

        target = resolve_target(model, input_size, num_classes)
        check_inputs(model, target, weights, checkpoint, input_size, num_classes, force_input_size,
                     calibration_dir, precision)
        check_qat_fallback(max_drop, qat_epochs, qat_images)
        given = {"opset": opset, "dynamic_batch": dynamic_batch or None, "simplify": False if no_simplify else None,
                 "exporter": exporter, "prepare_only": prepare_only or None, "workspace_mib": workspace_mib,
                 "quant_method": quant_method, "max_drop": max_drop, "search_images": search_images,
                 "keep_float": [k.strip() for k in keep_float.split(",") if k.strip()] if keep_float else None}
        common = dict(precision=precision, out_dir=out, checkpoint=checkpoint, input_size=input_size, batch=batch,
                      validate=not no_validate, n_images=n_images, dataset=dataset, data_dir=data_dir,
                      calibration_images=calibration_images, profiles=profiles, num_classes=num_classes,
                      weights=weights, calibration_dir=calibration_dir, speedup=False if no_speedup else None,
                      force_input_size=force_input_size)
        # TensorFlow's, ExecuTorch's, OpenVINO's lines (a format's precheck imports its backend): to the log file
        formats = _formats_for(to, precision)
        if to == "all" and checkpoint is not None and precision == "int8":
            from edgecnn.models.checkpoint import is_qat_checkpoint

            if is_qat_checkpoint(checkpoint):  # a `train --qat` checkpoint: only the formats that take its scales
                from edgecnn.export.qat import QAT_FORMATS

                formats = [f for f in formats if f in QAT_FORMATS]
        if to != "all":
            from edgecnn.cli.catalog import check_format_options

            check_format_options(formats, given)
        with third_party_log("export"):
            plan = export_plan(formats, to, precision, given, Path(out))
            timed = precision in ("int8", "int8_dynamic") and not no_validate and not no_speedup
            results = run_plan(target, plan, common, jobs, timed)
            if max_drop is not None and precision == "int8":
                results = qat_fallback(target, results, common, plan, max_drop, qat_epochs, qat_images)
            if json_out:
                print_json([r.record.to_dict() for r in results])
            else:
                print_results(model, results)
            bad = [f"{r.format} {r.precision} {r.status}" for r in results if not r.ok]
            if bad:
                raise ExportNotOk(f"{len(bad)} of {len(results)} export(s) not ok: {', '.join(bad)} (figures above)")

    @app.command("formats")
    def formats_cmd(json_out: bool = typer.Option(False, "--json")) -> None:
        """List export formats, the precisions each can build, the runtime that checks it and whether it runs here."""
        from edgecnn.cli.catalog import format_status, precisions, tolerances
        from edgecnn.console import print_json

        rows = format_status()
        if json_out:
            print_json({"formats": rows, "tolerances": tolerances(), "precisions": precisions()})
            return
        _print_formats(rows, tolerances())


def resolve_target(model: str, input_size: Optional[int], num_classes: Optional[int]) -> object:
    """What `edgecnn export MODEL` exports: a zoo name (checked against its card: no torch) or the
    module of a file, factory or timm model."""
    from edgecnn.console import warn
    from edgecnn.models.info import check_config
    from edgecnn.models.sources import FILE_SUFFIXES, LABELS, is_source_spec, resolve_source

    if not is_source_spec(model):
        # an unknown name, a size it cannot take or an option it has not: one line, before any import or work
        check_config(model, input_size=input_size, num_classes=num_classes)
        return model
    kind = FILE_SUFFIXES.get(Path(model).suffix.lower())
    if kind in ("onnx", "tflite"):  # said before the file is read: its shapes do not matter here
        raise InvalidOptionError(f"{model} is {'an' if kind == 'onnx' else 'a'} {LABELS[kind]}: export "
                                 f"converts PyTorch models; run the file as it is (`edgecnn profile "
                                 f"--models {model}`, `edgecnn eval {model}`)")
    src = resolve_source(model, input_size=input_size)
    if not src.is_pytorch:
        raise InvalidOptionError(f"{model} is {src.article} {src.label}: export converts PyTorch models; "
                                 f"run the file as it is (`edgecnn profile --models {model}`, "
                                 f"`edgecnn eval {model}`)")
    if num_classes is not None:
        raise InvalidOptionError("--num-classes applies to zoo models; a file or factory has its own classifier")
    for w in src.warnings:
        warn(w)
    return src.module()


def check_inputs(model: str, target: object, weights: Optional[str], checkpoint: Optional[Path],
                 input_size: Optional[int], num_classes: Optional[int], force_input_size: bool,
                 calibration_dir: Optional[Path], precision: str) -> None:
    """The weights, checkpoint and calibration options of `edgecnn export`, each one line when wrong."""
    if weights is not None:
        from edgecnn.models.weights import cached_file, check_size_and_classes, resolve_weights

        if checkpoint is not None:
            raise InvalidOptionError("give --weights or --checkpoint, not both")
        if target is not model:
            raise InvalidOptionError("--weights applies to zoo models here; a file or factory has its own weights")
        spec = resolve_weights(weights, model)  # a name the architecture has no weights for: one line
        check_size_and_classes(spec, model, input_size, num_classes)
        if spec.kind == "torchvision":
            cached_file(spec)  # the file is there, or downloads, or one line naming file and folder
    if force_input_size and (checkpoint is None or input_size is None):
        raise InvalidOptionError("--force-input-size goes with --checkpoint and --input-size (a checkpoint run "
                                 "at another side than it was trained at)")
    if calibration_dir is not None:
        from edgecnn.data.image_source import image_files

        if precision != "int8":
            raise InvalidOptionError(f"--calibration-dir is for --precision int8 (got {precision})")
        image_files(calibration_dir)  # a missing or empty folder: one line, before any work


def check_qat_fallback(max_drop: Optional[float], qat_epochs: Optional[int], qat_images: Optional[int]) -> None:
    if max_drop is None and (qat_epochs is not None or qat_images is not None):
        raise InvalidOptionError("--qat-epochs and --qat-images belong to --max-drop (the QAT step it takes where "
                                 "PTQ and mixed precision miss the budget); for a QAT run of its own use "
                                 "`edgecnn train MODEL --qat --checkpoint FP32.pt`")


def qat_fallback(target: object, results: list, common: dict, plan: list, max_drop: float,
                 qat_epochs: Optional[int], qat_images: Optional[int]) -> list:
    """The INT8 exports that missed --max-drop, replaced by their QAT exports (edgecnn/train/max_drop.py)."""
    from edgecnn.console import err_console, warn
    from edgecnn.train.max_drop import escalate

    return escalate(target, results, common, plan, max_drop, qat_epochs=qat_epochs, qat_images=qat_images,
                    export=export_format, warn=warn, log=lambda m: err_console.print(m, highlight=False, markup=False))


def export_plan(formats: list[str], to: str, precision: str, given: dict, out: Path) -> list[tuple[str, dict]]:
    """(format, options) for each of ``formats`` (what `--to` names), every request checked (options a
    format does not take, its precision, its backend's precheck) before the first export starts."""
    from edgecnn.console import warn
    from edgecnn.errors import MissingDependencyError
    from edgecnn.export import EXPORTERS
    from edgecnn.export.tensorrt import tensorrt_available
    from edgecnn.records import check_writable

    several = len(formats) > 1 or to == "all"
    if not formats:
        EXPORTERS.get("onnx").check(precision, {})  # raises the unknown-precision line
    check_writable(out)  # before a format's precheck imports its (slow, chatty) backend
    plan = []
    for fmt in formats:
        options = dict(given)
        if several:  # each format takes the options it has
            allowed = EXPORTERS.get(fmt).options
            options = {k: v for k, v in options.items() if k in allowed}
            if to == "all" and fmt == "tensorrt" and not tensorrt_available() and not given.get("prepare_only"):
                options["prepare_only"] = True
                warn("TensorRT is not installed here: --to all prepares the TensorRT build (--prepare-only)")
        entry = EXPORTERS.get(fmt)
        resolved = entry.check(precision, options)
        if entry.precheck:
            try:
                entry.precheck(precision, resolved)
            except MissingDependencyError as exc:
                if to != "all":
                    raise
                warn(f"--to all skips {fmt}: {exc}")
                continue
        plan.append((fmt, options))
    return plan


def run_plan(target: object, plan: list[tuple[str, dict]], common: dict, jobs: Optional[int], timed: bool) -> list:
    """Export each planned format; the results in the plan's order.

    Several formats of a model named on the command line are exported ``jobs`` at a time (this process and
    helpers), the slow converters first; not when an INT8 export times itself against its FP32 twin
    (``timed``: that timing needs a quiet machine), nor for a file or factory (its module is built here)."""
    from edgecnn.export.artifacts import SLOW_FORMATS
    from edgecnn.jobs import default_jobs, run_jobs

    n_jobs = jobs if jobs is not None else default_jobs()
    order = sorted(range(len(plan)), key=lambda i: plan[i][0] not in SLOW_FORMATS)
    if len(plan) > 1 and n_jobs > 1 and not timed and isinstance(target, str):
        done = run_jobs(export_format, [(target, plan[i][0], {**common, **plan[i][1]}) for i in order], n_jobs)
        return [done[order.index(i)] for i in range(len(plan))]
    return [export_format(target, fmt, {**common, **options}) for fmt, options in plan]


def print_results(model: str, results: list) -> None:
    """The export table, its legend, and each result's files, error and notes."""
    from rich.table import Table

    from edgecnn.console import console

    table = Table(title=f"edgecnn export {model}")
    quant = any(r.record.metrics.get("quant_method") or r.record.metrics.get("speedup") for r in results)
    cols = ("format", "prec", "status", "MB", "s", "max|d|", "cos", "agree", "top-1")
    cols += ("method", "float", "speed-up") if quant else ()
    for col in cols:
        table.add_column(col, justify="left" if col in ("format", "prec", "status") else "right", overflow="fold")
    for r in results:
        m = r.record.metrics
        top1 = f"{m['top1']:.1f}/{m['top1_reference']:.1f}%" if m.get("top1") is not None else "-"
        table.add_row(r.format, r.precision, r.status,
                      f"{m['file_bytes'] / 1e6:.2f}" if m.get("file_bytes") else "-",
                      f"{m.get('export_s', 0):.1f}",
                      f"{m['max_abs_diff']:.1e}" if m.get("max_abs_diff") is not None else "-",
                      f"{m['cosine']:.5f}" if m.get("cosine") is not None else "-",
                      f"{m['top1_agreement']:.1f}%" if m.get("top1_agreement") is not None else "-", top1,
                      *((m.get("quant_method") or "-", str(len(m.get("float_nodes") or [])),
                         f"{m['speedup']:.2f}x" if m.get("speedup") else "-") if quant else ()))
    console.print(table)
    console.print("max|d|: largest logit difference vs PyTorch; cos: mean cosine similarity; agree: "
                  "top-1 agreement with PyTorch; top-1: accuracy of the artifact / of PyTorch on the "
                  "same images" + ("; method: INT8 method; float: layers kept in float; speed-up: FP32 "
                                   "twin p50 / INT8 p50 on the same runtime (isolated workers)" if quant
                                   else ""), markup=False, highlight=False)
    for r in results:
        for f in r.files:
            console.print(f"{r.format} {r.precision}: wrote {f}", markup=False, highlight=False)
        if r.error:
            console.print(f"{r.format} {r.precision} {r.status}: {r.error}", markup=False, highlight=False)
        for note in r.notes:
            console.print(f"{r.format} {r.precision}: {note}", markup=False, highlight=False)
        if r.record.metrics.get("max_drop_met") is not None:
            console.print(f"{r.format} {r.precision}: {max_drop_line(r.record.metrics)}", markup=False,
                          highlight=False)


def max_drop_line(m: dict) -> str:
    """What --max-drop came to: the path that met it (or did not), its drop, and the paths tried before."""
    from edgecnn.export.max_drop import judged_drop

    drop = judged_drop(m)
    head = (f"--max-drop {m.get('max_drop'):g} {'met' if m['max_drop_met'] else 'NOT met'} by {m.get('method')}"
            + (f" ({drop:.2f} points on {m.get('max_drop_measured_on')})" if drop is not None else "")
            + (f": {m['max_drop_missed']}" if m.get("max_drop_missed") else ""))
    tried = [f"{a.get('method')} {a['drop']:.2f} points" if a.get("drop") is not None else str(a.get("method"))
             for a in m.get("max_drop_attempts") or []]
    qat = f"; QAT fine-tune {m['qat_seconds']:.0f} s" if m.get("qat_seconds") is not None else ""
    return head + (f"; tried before: {', '.join(tried)}" if tried else "") + qat


def _print_formats(rows: list, tolerances: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    from edgecnn.console import console

    table = Table(title="export formats")
    for col in ("format", "suffix", "precisions", "runtime", "extra", "runs here", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["format"], r["suffix"], ", ".join(r["precisions"]), r["runtime"], r["extra"] or "-",
                      "yes" if r["runs_here"] else escape(f"no: {r['why_not']}"), escape(r["description"]))
    console.print(table)
    for name, tol in tolerances.items():
        console.print(f"parity tolerance {name}: " + ", ".join(
            f"{k} {'<=' if k.endswith('diff') else '>='} {v:g}" for k, v in tol.items()), markup=False)
    console.print("random weights (no --checkpoint): fp16/int8 top-1 agreement is reported, not judged "
                  "(near-tie logits); cosine is. See docs/export.md.", markup=False)
