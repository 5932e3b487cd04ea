"""`edgecnn quantize-report` (per-layer INT8 sensitivity) and `edgecnn quantize-methods`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("quantize-report")
    def quantize_report_cmd(
        checkpoint: Path = typer.Argument(..., help="A checkpoint of `edgecnn train` (or a state dict with --model)."),
        model: Optional[str] = typer.Option(None, "--model", help="Zoo name, for a bare state dict."),
        method: str = typer.Option("auto", "--method", help="INT8 method (see `edgecnn quantize-methods`)."),
        n_images: int = typer.Option(300, "--n-images", help="Real test images each single-layer model runs on."),
        calibration_images: int = typer.Option(128, "--calibration-images", help="Real training images for the "
                                               "activation ranges."),
        top: int = typer.Option(15, "--top", help="Layers to print (most sensitive first; --json has all)."),
        dataset: str = typer.Option("cifar10", "--dataset", help="cifar10 | cifar100 | imagefolder."),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Dataset folder or archive."),
        json_out: bool = typer.Option(False, "--json", help="Print the whole report as JSON."),
    ) -> None:
        """Rank the layers of CHECKPOINT by the error each adds when only it is INT8 (ONNX Runtime, real images)."""
        from edgecnn.console import console, err_console, print_json
        from edgecnn.export.quant_report import quantize_report

        def progress(i: int, n: int, layer: str) -> None:
            if i % 10 == 0:
                err_console.print(f"layer {i + 1}/{n}: {layer}", highlight=False, markup=False)

        from edgecnn.cli.quiet import third_party_log

        with third_party_log("quantize-report"):  # ONNX Runtime's and NNCF's own lines: to the log file
            rep = quantize_report(checkpoint, model, method=method, n_images=n_images,
                                  calibration_images=calibration_images, dataset=dataset, data_dir=data_dir,
                                  progress=progress)
        if json_out:
            print_json(rep.to_dict())
            return
        _print(console, rep, top)

    @app.command("quantize-methods")
    def quantize_methods_cmd(json_out: bool = typer.Option(False, "--json")) -> None:
        """List the INT8 methods of the ONNX export (`--quant-method`) and what `auto` picks here."""
        from edgecnn.console import console, print_json
        from edgecnn.export.quantize import QUANT_METHODS, resolve_method

        rows = [{"name": n, "tool": m.tool, "description": m.description, **m.settings()}
                for n, m in QUANT_METHODS.items()]
        auto = resolve_method("auto").name
        if json_out:
            print_json({"methods": rows, "auto": auto})
            return
        for r in rows:
            console.print(f"{r['name']:<13} {r['tool']:<12} {r['description']}", markup=False, highlight=False)
        console.print(f"auto = {auto} on this CPU", markup=False, highlight=False)


def _pct(v: Optional[float]) -> str:
    return f"{v:.2f}%" if v is not None else "-"


def _print(console: object, rep: object, top: int) -> None:
    from rich.table import Table

    s = rep.sensitivity  # type: ignore[attr-defined]
    ref = s.reference_top1
    head = (f"{rep.model} ({rep.checkpoint}): method {rep.method}"  # type: ignore[attr-defined]
            + (f", layers ranked with {s.ranked_with}" if s.ranked_with != rep.method else "")  # type: ignore
            + f"; {s.n_images} test images, {rep.calibration_images} calibration images")  # type: ignore
    console.print(head, markup=False, highlight=False)  # type: ignore[attr-defined]
    for label, fig in (("FP32", None), ("INT8, integer kernels", s.all_int8),
                       ("INT8, simulated in float", rep.simulated)):  # type: ignore[attr-defined]
        if fig is None:
            console.print(f"  {label:<26} top-1 {_pct(ref)}", markup=False)  # type: ignore[attr-defined]
            continue
        drop = f" (drop {ref - fig['top1']:+.2f} points)" if ref is not None and fig["top1"] is not None else ""
        console.print(f"  {label:<26} top-1 {_pct(fig['top1'])}{drop}, agreement {fig['agreement']:.1f}%, "  # type: ignore
                      f"logit error {fig['logit_error']:.2e}", markup=False, highlight=False)
    table = Table(title=f"most sensitive layers (only that layer INT8), {top} of {len(s.rows)}")
    for col in ("rank", "layer", "op", "logit error", "agreement", "top-1", "drop"):
        table.add_column(col, justify="left" if col in ("layer", "op") else "right", overflow="fold")
    for i, r in enumerate(s.rows[:top], 1):
        drop = f"{ref - r['top1']:+.2f}" if ref is not None and r["top1"] is not None else "-"
        table.add_row(str(i), r["layer"], r["op"], f"{r['logit_error']:.2e}", f"{r['agreement']:.1f}%",
                      _pct(r["top1"]), drop)
    console.print(table)  # type: ignore[attr-defined]
    console.print("logit error: sum of squared logit differences / sum of squared FP32 logits; a gap between the "  # type: ignore
                  "integer-kernel and simulated rows is the CPU's int8 kernels (x86 without VNNI saturates "
                  "u8 x s8 sums); keep layers in float with `edgecnn export --keep-float NAME,...` or "
                  "`--max-drop POINTS`", markup=False, highlight=False)
