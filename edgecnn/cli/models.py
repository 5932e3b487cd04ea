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
        from rich.table import Table

        from edgecnn.console import console, human, print_json
        from edgecnn.errors import EdgeCNNError
        from edgecnn.models.names import model_names

        zoo = model_names()  # a pattern that matches nothing is one line before the zoo loads
        if not zoo.list(pattern):
            close = zoo.suggest(pattern or "")
            hint = f"; did you mean: {', '.join(close)}?" if close else ""
            raise EdgeCNNError(f"no model matches {pattern!r}{hint}")
        from edgecnn.models import get_card, list_models

        names = list_models(pattern)
        cards = [get_card(n) for n in names]
        if json_out:
            print_json([c.to_dict() for c in cards])
            return
        table = Table(title=f"edgecnn models ({len(names)})")
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

    @app.command("info")
    def info_cmd(
        name: str = typer.Argument(..., help="Model name (see `edgecnn models`)."),
        input_size: Optional[int] = typer.Option(None, "--input-size", help="Input side in pixels (32 = CIFAR variant)."),
        num_classes: Optional[int] = typer.Option(None, "--num-classes"),
        opt: list[str] = typer.Option([], "--opt", help="Builder option KEY=VALUE, e.g. width_mult=0.5."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Print one model's card and its layer table (output shapes, parameters)."""
        from rich.table import Table

        from edgecnn.console import console, human, print_json
        from edgecnn.models.names import model_names

        model_names().get(name)  # an unknown name is one line before the zoo loads
        from edgecnn.models import count_params, create_model, get_card
        from edgecnn.models.summary import layer_table

        card = get_card(name)
        model = create_model(name, input_size=input_size, num_classes=num_classes, **_parse_options(opt))
        cfg = model.edgecnn_config
        rows = layer_table(model, cfg["input_size"])
        params = count_params(model)
        if json_out:
            print_json({"card": card.to_dict(), "config": cfg, "params": params, "layers": rows})
            return
        console.print(f"[bold]{card.name}[/bold]  ({card.family})  {card.paper}")
        console.print(f"config: {cfg}")
        ref = card.reference(cfg["input_size"], cfg["num_classes"])
        ref_txt = f"reference {ref.params:,} ({ref.source})" if ref and ref.params else "no reference figure"
        console.print(f"parameters: {params:,}  ({ref_txt})", markup=False)
        console.print(f"normalisation: mean={card.mean} std={card.std}")
        table = Table(title="layers")
        for col in ("layer", "type", "output shape", "params"):
            table.add_column(col, justify="right" if col == "params" else "left")
        for r in rows:
            table.add_row(r["name"], r["type"], "x".join(map(str, r["output_shape"])), human(r["params"]))
        console.print(table)
