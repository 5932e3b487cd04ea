"""`edgecnn train`, `edgecnn eval` and `edgecnn recipes`."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        model: str = typer.Argument(..., help="Model name (see `edgecnn models`)."),
        dataset: str = typer.Option("cifar10", "--dataset", help="cifar10, cifar100 or imagefolder."),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Folder, .tar.gz or torchvision root."),
        epochs: Optional[int] = typer.Option(None, "--epochs", help="Default: the recipe's."),
        time_budget: Optional[str] = typer.Option(None, "--time-budget",
                                                  help="Wall-clock budget (90s, 3m, 1h or seconds): the epochs "
                                                       "and the schedule are fitted to it after timing the "
                                                       "first steps."),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Global batch; lr scales with it."),
        lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate."),
        weight_decay: Optional[float] = typer.Option(None, "--weight-decay"),
        label_smoothing: Optional[float] = typer.Option(None, "--label-smoothing"),
        cutout: Optional[int] = typer.Option(None, "--cutout", help="Cutout square side in px (0 = off)."),
        random_erasing: Optional[float] = typer.Option(None, "--random-erasing", help="Probability per image."),
        mixup: Optional[float] = typer.Option(None, "--mixup", help="Mixup Beta alpha (0 = off)."),
        stochastic_depth: Optional[float] = typer.Option(None, "--stochastic-depth",
                                                         help="Drop probability of the last residual block."),
        shake_shake: bool = typer.Option(False, "--shake-shake", help="Needs two-branch residual blocks."),
        ema: Optional[float] = typer.Option(None, "--ema", help="Decay per step of a moving average of the "
                                            "weights, which is evaluated and saved (0 = off)."),
        tta_flip: Optional[bool] = typer.Option(None, "--tta-flip/--no-tta-flip",
                                                help="Evaluate with the logits of each image and its mirror "
                                                     "averaged."),
        norm: Optional[str] = typer.Option(None, "--norm", help="Normalisation: card (the model card's), "
                                           "imagenet, or cifar (the CIFAR data set's own)."),
        wd_on: Optional[str] = typer.Option(None, "--wd-on", help="Weight decay on: weights (conv/linear) or "
                                            "all (every parameter)."),
        recipe_set: Optional[list[str]] = typer.Option(None, "--recipe-set", help="FIELD=VALUE: set any recipe "
                                                       "field (see `edgecnn recipes --json`); repeatable."),
        recipe: str = typer.Option("default", "--recipe", help="See `edgecnn recipes` (--qat: `qat` unless given)."),
        qat: bool = typer.Option(False, "--qat", help="Quantisation-aware fine-tune of --checkpoint's float weights "
                                 "(PT2E fake quantisation, the XNNPACK INT8 scheme the exports run); export the "
                                 "result with `edgecnn export MODEL --checkpoint RUN/best.pt --precision int8`."),
        checkpoint: Optional[str] = typer.Option(None, "--checkpoint", help="--qat: the trained float (FP32 or FP16) "
                                                 "checkpoint to start from."),
        input_size: Optional[int] = typer.Option(None, "--input-size", help="Default: the image side if < 64."),
        num_classes: Optional[int] = typer.Option(None, "--num-classes", help="Checked against the dataset."),
        out: Optional[str] = typer.Option(None, "--out", help="Run folder (default runs/MODEL-DATASET-seedN)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from last.pt."),
        seed: int = typer.Option(0, "--seed"),
        subset: Optional[int] = typer.Option(None, "--subset", help="Train on N images (quick runs)."),
        test_subset: Optional[int] = typer.Option(None, "--test-subset", help="Evaluate on N test images."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
        threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's; "
                                              "1 is often faster on a busy machine)."),
        amp: str = typer.Option("auto", "--amp", help="auto, bf16, fp16 or off."),
        channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last"),
        compile_: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile (CUDA default)."),
        checkpoint_every: int = typer.Option(0, "--checkpoint-every", help="Steps between mid-epoch checkpoints."),
        save_fp16: bool = typer.Option(False, "--save-fp16", help="Also save fp16 weights of the final model."),
        profiles: str = typer.Option("profiles", "--profiles", help="Records folder."),
        no_records: bool = typer.Option(False, "--no-records", help="Write no records."),
        device_name: str = typer.Option("local", "--device-name", help="Device name in the records."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Train MODEL; under torchrun the same command uses DistributedDataParallel."""
        import sys

        from edgecnn.console import print_json
        from edgecnn.models.names import model_names
        from edgecnn.models.sources import is_source_spec

        if not is_source_spec(model):
            model_names().get(model)  # an unknown name is one line before torch loads
        from edgecnn.train.trainer import options_from, train

        kwargs = dict(locals())  # options_from keeps TrainOptions' fields
        kwargs["compile"] = compile_
        kwargs["profiles"] = None if no_records else profiles
        summary = train(options_from(**kwargs), log=lambda m: print(m, file=sys.stderr, flush=True))
        if json_out:
            print_json(summary)
        else:
            budget = (f" (budget {summary['time_budget_s']:g} s, planned at "
                      f"{summary['budget_plan']['images_per_s']:.0f} img/s)" if summary.get("time_budget_s") else "")
            typer.echo(f"{model}: test top-1 {summary['test_top1']:.2f}% (best {summary['best_test_top1']:.2f}%) "
                       f"after {summary['epochs']} epochs, {summary['wall_s']:.1f} s{budget}; "
                       f"run folder {summary['run_dir']}")

    @app.command("eval")
    def eval_cmd(
        target: str = typer.Argument(..., help="Checkpoint (.pt), artifact (.onnx, .tflite, .xml, .pte, "
                                     ".ncnn.param, .mnn, .engine/.plan), any model (.pt2/TorchScript file, "
                                     "package.module:callable, timm:<name>), or a zoo name with --weights."),
        dataset: Optional[str] = typer.Option(None, "--dataset", help="cifar10, cifar100, imagefolder (any folder, "
                                              "ImageNet val/<wnid>/ layouts included) or imagenet. Default: the "
                                              "checkpoint's or the weights', else cifar10."),
        data_dir: Optional[str] = typer.Option(None, "--data-dir"),
        weights: Optional[str] = typer.Option(None, "--weights", help="With a model name: torchvision weights "
                                              "(DEFAULT, IMAGENET1K_V1, ...), a timm tag, or a weights file; "
                                              "evaluated with the weights' own preprocessing."),
        labels: Optional[str] = typer.Option(None, "--labels", help="Labels file of a flat image folder: lines "
                                             "'<file> <wnid or index>' or Kaggle's LOC_val_solution.csv."),
        mean: Optional[str] = typer.Option(None, "--mean", help="Normalisation mean (R,G,B or one value): for a "
                                           "file edgecnn did not export (default ImageNet's, with a warning), or "
                                           "an override (a warning and a check when it differs from the model's)."),
        std: Optional[str] = typer.Option(None, "--std", help="Override the normalisation std (R,G,B or one value)."),
        check_images: int = typer.Option(500, "--check-images", help="Images the normalisation check evaluates "
                                         "both ways when --mean/--std differ from the weights'."),
        input_size: Optional[int] = typer.Option(None, "--input-size", min=1, help="With a model name: the input "
                                                 "side (default: the weights' crop); for a model file whose input "
                                                 "is dynamic: its side; for a checkpoint: the side it was "
                                                 "trained at unless --force-input-size)."),
        force_input_size: bool = typer.Option(False, "--force-input-size", help="Evaluate a checkpoint at another "
                                              "--input-size than it was trained at (the record notes it)."),
        batch_size: int = typer.Option(256, "--batch-size"),
        subset: Optional[int] = typer.Option(None, "--subset", help="Evaluate on N test images (class-balanced; "
                                             "an image folder decodes only these)."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (checkpoints)."),
        model: Optional[str] = typer.Option(None, "--model", help="Model name, for a bare state dict only."),
        profiles: str = typer.Option("profiles", "--profiles"),
        no_records: bool = typer.Option(False, "--no-records"),
        device_name: str = typer.Option("local", "--device-name"),
        confusion: bool = typer.Option(False, "--confusion", help="Print the confusion matrix."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Top-1, top-5, loss, per-class accuracy and confusion matrix; writes an accuracy record."""
        from edgecnn.cli.quiet import third_party_log
        from edgecnn.console import print_json, warn
        from edgecnn.data.preprocess import parse_triple
        from edgecnn.records import RecordStore
        from edgecnn.train.evaluate import evaluate_target

        mean_std = parse_triple("--mean", mean), parse_triple("--std", std, positive=True)
        with third_party_log("eval"):  # a runtime's own log lines (LiteRT, ExecuTorch, OpenVINO): to the log file
            res = evaluate_target(target, dataset, data_dir, batch_size, subset, device, model_name=model,
                                  weights=weights, mean=mean_std[0], std=mean_std[1], check_images=check_images,
                                  labels=labels, input_size=input_size, warn=warn, force_input_size=force_input_size)
        path = None
        if not no_records:
            path = RecordStore(profiles).append(res.record(device_name))
        if json_out:
            print_json({"model": res.model, "format": res.format, "precision": res.precision,
                        "dataset": res.dataset, "classes": res.classes, **res.metrics,
                        "record": str(path) if path else None})
            return
        print_eval(res, confusion, path)

    @app.command("recipes")
    def recipes_cmd(json_out: bool = typer.Option(False, "--json")) -> None:
        """List training recipes and their hyper-parameters."""
        from rich.table import Table

        from edgecnn.console import console, print_json
        from edgecnn.train.recipes import RECIPES

        recs = [r for _, r in RECIPES.items()]
        if json_out:
            print_json([r.to_dict() for r in recs])
            return
        table = Table(title="training recipes")
        for col in ("name", "epochs", "batch", "lr", "wd (on)", "schedule", "smoothing", "cutout", "ema", "tta",
                    "norm", "description"):
            table.add_column(col)
        for r in recs:
            table.add_row(r.name, str(r.epochs), str(r.batch_size), f"{r.lr:g}", f"{r.weight_decay:g} ({r.wd_on})",
                          r.schedule, f"{r.label_smoothing:g}", str(r.cutout), f"{r.ema:g}",
                          "flip" if r.tta_flip else "-", r.norm, r.description)
        console.print(table)


def print_eval(res, confusion: bool, path) -> None:
    """The headline figures, preprocessing, normalisation check, per-class table (and the confusion
    matrix) of an evaluation."""
    from rich.table import Table

    from edgecnn.console import console

    m = res.metrics
    said = f" weights {m['weights']} ({m.get('weights_source')})" if m.get("weights_source") else ""
    console.print(f"[bold]{res.model}[/bold] {res.format} {res.precision}{said} on {res.dataset} "
                  f"({m['n_images']} images): top-1 {m['top1']:.2f}%  top-5 {m['top5']:.2f}%  "
                  f"loss {m['loss']:.4f}  ({res.seconds:.1f} s)", highlight=False)
    if m.get("preprocessing"):
        from edgecnn.data.preprocess import Preprocessing

        console.print(f"preprocessing: {Preprocessing.from_dict(m['preprocessing']).describe()}", highlight=False)
    check = m.get("normalization_check")
    if check:
        console.print(f"normalisation check on {check['n_images']} images: top-1 {check['top1_used']:.2f}% as "
                      f"given, {check['top1_own']:.2f}% with the weights' own "
                      f"({-check['drop_points']:+.2f} points)", highlight=False)
    titles = res.extra.get("titles")
    table = Table(title="per-class top-1" + (f" ({m['classes_present']} classes with images)"
                                             if m.get("classes_present") else ""))
    table.add_column("class")
    table.add_column("top-1 %", justify="right")
    for i, (name, acc) in enumerate(zip(res.classes, m["per_class_top1"])):
        if acc is not None:
            table.add_row(f"{name} {titles[i]}" if titles else name, f"{acc:.2f}")
    console.print(table)
    if confusion and m.get("confusion") is None:
        console.print(f"no confusion matrix for {len(res.classes)} classes (only up to 100)")
    elif confusion:
        ct = Table(title="confusion (rows: true, columns: predicted)")
        ct.add_column("")
        for i in range(len(res.classes)):
            ct.add_column(str(i), justify="right")
        for name, row in zip(res.classes, m["confusion"]):
            ct.add_row(name, *map(str, row))
        console.print(ct)
    if path:
        console.print(f"record appended to {path}")
