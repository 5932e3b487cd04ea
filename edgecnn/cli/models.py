"""`edgecnn models` and `edgecnn info`."""

from __future__ import annotations

from typing import Optional

import typer


def _parse_options(opts: list[str]) -> dict:
    """``["width_mult=0.5"]`` -> ``{"width_mult": 0.5}`` (numbers parsed)."""
    from edgecnn.errors import InvalidOptionError

    out = {}
    for item in opts:
        if "=" not in item:
            raise InvalidOptionError(f"--opt takes KEY=VALUE, got {item!r}")
        key, val = item.split("=", 1)
        for conv in (int, float):
            try:
                out[key] = conv(val)
                break
            except ValueError:
                continue
        else:
            out[key] = {"true": True, "false": False}.get(val.lower(), val)
    return out


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models_cmd(
        pattern: Optional[str] = typer.Argument(None, help="Wildcard filter, e.g. 'mobilenet*' or 'resnet*,vgg*'."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List registered models with their reference parameters and MACs."""
        from edgecnn.console import print_json
        from edgecnn.errors import EdgeCNNError
        from edgecnn.models.names import model_cards, model_names

        cards = model_cards(pattern)  # the generated card table: no torch
        if not cards:
            close = model_names().suggest(pattern or "")
            hint = f"; did you mean: {', '.join(close)}?" if close else ""
            raise EdgeCNNError(f"no model matches {pattern!r}{hint}")
        if json_out:
            print_json([c.to_dict() for c in cards])
            return
        _print_models(cards)

    @app.command("info")
    def info_cmd(
        name: str = typer.Argument(..., help="Model name (see `edgecnn models`)."),
        input_size: Optional[int] = typer.Option(None, "--input-size", help="Input side in pixels (32 = CIFAR variant)."),
        num_classes: Optional[int] = typer.Option(None, "--num-classes"),
        opt: list[str] = typer.Option([], "--opt", help="Builder option KEY=VALUE, e.g. width_mult=0.5."),
        layers: bool = typer.Option(False, "--layers", help="Build the model and print its layer table (output "
                                    "shapes, parameters); loads torch."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Print one model's card, configuration and parameters (with --layers, its layer table)."""
        from edgecnn.console import print_json
        from edgecnn.models.info import model_info

        info = model_info(name, input_size=input_size, num_classes=num_classes, options=_parse_options(opt),
                          layers=layers)
        if json_out:
            print_json(info.to_dict())
            return
        _print_info(info)


def _print_models(cards: list) -> None:
    from rich.table import Table

    from edgecnn.console import console, human

    table = Table(title=f"edgecnn models ({len(cards)})")
    for col, just in (("name", "left"), ("family", "left"), ("input", "right"), ("classes", "right"),
                      ("params", "right"), ("MACs", "right"), ("paper", "left")):
        table.add_column(col, justify=just, no_wrap=col == "name")
    for c in cards:
        ref = c.reference()
        table.add_row(c.name, c.family, f"{c.input_size}x{c.input_size}", str(c.num_classes),
                      human(ref.params if ref else None), human(ref.macs if ref else None), c.paper)
    console.print(table)
    console.print("params and MACs (conv + linear multiply-accumulates) are the reference figures "
                  "each model is tested against; `edgecnn cost MODEL` counts them per layer.")


def _print_info(info) -> None:
    from edgecnn.console import console, human

    card, cfg = info.card, info.config
    console.print(f"[bold]{card.name}[/bold]  ({card.family})  {card.paper}")
    console.print(f"config: {cfg}")
    ref = card.reference(cfg["input_size"], cfg["num_classes"])
    ref_txt = f"reference {ref.params:,} ({ref.source})" if ref and ref.params else "no reference figure"
    console.print(f"parameters: {info.params:,}  ({ref_txt})", markup=False)
    console.print(f"normalisation: mean={card.mean} std={card.std}")
    if info.layers is None:
        console.print(f"layer table: `edgecnn info {card.name} --layers` (builds the model)", markup=False,
                      highlight=False)
        return
    from rich.table import Table

    table = Table(title="layers")
    for col in ("layer", "type", "output shape", "params"):
        table.add_column(col, justify="right" if col == "params" else "left")
    for r in info.layers:
        table.add_row(r["name"], r["type"], "x".join(map(str, r["output_shape"])), human(r["params"]))
    console.print(table)
