"""`edgecnn cost`: per-layer MACs, parameters, bytes, arithmetic intensity,
the depthwise-separable check and the fvcore / torch cross-check."""

from __future__ import annotations

from typing import Any, Optional

import typer

LAYER_KEYS = ("m", "n", "dk", "df", "stride")


def parse_input_size(text: Optional[str]) -> Optional[tuple[int, ...]]:
    """``"224"`` -> (224,), ``"224x160"`` -> (224, 160), ``"3x224x224"`` -> (3, 224, 224)."""
    from edgecnn.errors import InvalidOptionError

    if text is None:
        return None
    parts = text.lower().replace(",", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise InvalidOptionError(f"--input-size takes S, HxW or CxHxW in pixels, got {text!r}") from None
    if not 1 <= len(dims) <= 3 or any(d <= 0 for d in dims):
        raise InvalidOptionError(f"--input-size takes 1 to 3 positive integers (S, HxW, CxHxW), got {text!r}")
    return dims


def parse_layer(text: str) -> dict[str, int]:
    """``"M=32,N=64,Dk=3,Df=112,stride=2"`` -> {"m": 32, ...}; stride defaults to 1."""
    from edgecnn.errors import InvalidOptionError

    out: dict[str, int] = {}
    for item in [p.strip() for p in text.split(",") if p.strip()]:
        if "=" not in item:
            raise InvalidOptionError(f"--layer takes KEY=VALUE pairs (M, N, Dk, Df, stride), got {item!r}")
        key, val = (s.strip() for s in item.split("=", 1))
        if key.lower() not in LAYER_KEYS:
            raise InvalidOptionError(f"--layer: unknown key {key!r}; keys are M, N, Dk, Df, stride")
        try:
            out[key.lower()] = int(val)
        except ValueError:
            raise InvalidOptionError(f"--layer: {key} must be an integer, got {val!r}") from None
    missing = [k for k in ("m", "n", "dk", "df") if k not in out]
    if missing:
        raise InvalidOptionError(f"--layer is missing {', '.join(k.upper() if len(k) == 1 else k.capitalize() for k in missing)}"
                                 " (example: --layer M=32,N=64,Dk=3,Df=112,stride=1)")
    out.setdefault("stride", 1)
    return out


def _store(profiles: str, records: list) -> str:
    from edgecnn.records import RecordStore

    store = RecordStore(profiles)
    store.extend(records)
    return str(store.path_for(records[0])) if records else profiles


def _ratio_row(p) -> list[str]:
    from edgecnn.console import human

    return [str(p.m), str(p.n), str(p.dk), f"{p.df_in}>{p.df}" if p.stride != 1 else str(p.df), str(p.stride),
            human(p.macs_separable), human(p.macs_standard), f"{p.analytic_ratio:.4f}", f"{p.counted_ratio:.4f}",
            "yes" if p.matches else "NO"]


_PAIR_COLS = ("M", "N", "Dk", "Df", "s", "sep MACs", "std MACs", "1/N+1/Dk²", "counted", "ok")


def _layer_command(spec: str, json_out: bool, record: bool, profiles: str) -> None:
    p = parse_layer(spec)  # a malformed shape is one line before torch loads
    from rich.table import Table

    from edgecnn.console import console, print_json
    from edgecnn.cost.separable import layer_variant, separable_layer_check

    pair = separable_layer_check(p["m"], p["n"], p["dk"], p["df"], p["stride"])
    variant = layer_variant(p["m"], p["n"], p["dk"], p["df"], p["stride"])
    where = None
    if record:
        where = _store(profiles, [pair.to_record("single_layer", input_shape=[p["m"], p["df"], p["df"]],
                                                 variant=variant)])
    if json_out:
        print_json({"layer": variant, **pair.to_dict(), "matches": pair.matches, "record": where})
        return
    table = Table(title=f"depthwise-separable vs standard conv ({variant})")
    for col in _PAIR_COLS:
        table.add_column(col, justify="right")
    table.add_row(*_ratio_row(pair))
    console.print(table)
    console.print(f"Df is the side of the output map ({pair.df}: input {pair.df_in}, stride {pair.stride}, "
                  f"padding Dk//2); MACs are multiply-accumulates, per image.", highlight=False)
    if where:
        console.print(f"record appended to {where}", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("cost")
    def cost_cmd(
        model_name: Optional[str] = typer.Argument(None, metavar="MODEL",
                                                   help="Zoo name, .onnx/.tflite/.pt2/.pt file, package.module:"
                                                        "callable or timm:<name>; omit with --layer."),
        input_size: Optional[str] = typer.Option(None, "--input-size", help="S, HxW or CxHxW pixels (default: the model card's)."),
        num_classes: Optional[int] = typer.Option(None, "--num-classes"),
        per_layer: bool = typer.Option(False, "--per-layer", help="Print one row per layer."),
        separable: bool = typer.Option(False, "--separable", help="Check every depthwise-separable pair against 1/N + 1/Dk^2."),
        precision: str = typer.Option("fp32", "--precision", help="Bytes per element for weights and activations: fp32 | fp16 | int8."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON (totals, layers, ...) instead of tables."),
        cross: bool = typer.Option(False, "--cross-check", help="Also count with fvcore and torch's FlopCounterMode."),
        layer: Optional[str] = typer.Option(None, "--layer", help="Separable check for one layer shape instead of a model: "
                                                                  "M=32,N=64,Dk=3,Df=112[,stride=1] (Df = input side)."),
        weights: Optional[str] = typer.Option(None, "--weights", help="Pretrained weights (torchvision name such as "
                                              "DEFAULT): checked against the architecture, counted at their own "
                                              "crop, their published parameters and MACs shown beside."),
        record: bool = typer.Option(True, "--record/--no-record", help="Append analytic records under --profiles."),
        profiles: str = typer.Option("profiles", "--profiles", help="Records folder (profiles/<device>/<kind>.jsonl)."),
    ) -> None:
        """Count a model's MACs (multiply-accumulates), parameters, bytes and arithmetic intensity per layer."""
        from edgecnn.errors import InvalidOptionError

        if precision not in ("fp32", "fp16", "int8"):  # what --precision offers (the engine counts bf16 too)
            raise InvalidOptionError(f"--precision must be one of fp32, fp16, int8; got {precision!r}")
        if layer is not None:
            if model_name is not None or weights is not None:
                raise InvalidOptionError("give either MODEL (with --weights) or --layer, not both")
            _layer_command(layer, json_out, record, profiles)
            return
        if model_name is None:
            raise InvalidOptionError("missing MODEL (or --layer M=..,N=..,Dk=..,Df=..); see `edgecnn models`")
        _model_command(model_name, parse_input_size(input_size), num_classes, per_layer, separable, precision,
                       json_out, cross, record, profiles, weights)


def _model_command(name: str, size: Optional[tuple[int, ...]], num_classes: Optional[int], per_layer: bool,
                   separable: bool, precision: str, json_out: bool, cross: bool, record: bool,
                   profiles: str, weights: Optional[str] = None) -> None:
    from edgecnn.models.names import model_names
    from edgecnn.models.sources import is_source_spec

    if not is_source_spec(name):
        model_names().get(name)  # an unknown name is one line before torch and the zoo load
    from edgecnn.console import console, print_json, warn
    from edgecnn.cost.separable import pairs_from_report

    side = None if size is None else size[-2] if len(size) >= 2 else size[0]
    wspec = None
    if weights is not None:
        from edgecnn.errors import InvalidOptionError
        from edgecnn.models.weights import resolve_weights

        if is_source_spec(name):
            raise InvalidOptionError(f"--weights applies to zoo models; {name} has its own weights")
        wspec = resolve_weights(weights, name)
        if side is None and wspec.preprocessing is not None:
            side = wspec.preprocessing.crop_size  # the size the weights are evaluated (and counted) at
    weights_info = None
    if is_source_spec(name):
        report, cfg, card, src = _count_source(name, side, precision, cross, num_classes)
        for w in src.warnings:
            warn(w)
    else:
        report, cfg, card, model = _count_zoo(name, size, side, num_classes, precision, cross,
                                              need_model=wspec is not None)
        src = None
        if wspec is not None:
            weights_info = _weights_info(model, wspec, name)
    pairs = pairs_from_report(report) if separable else []
    check = None
    if cross:
        from edgecnn.cost.crosscheck import cross_check

        check = cross_check(src.module() if src else _real_zoo(name, side, num_classes), cfg["count_size"],
                            report=report)
    ref = card.reference(cfg["input_size"], cfg["num_classes"]) if card and report.input_shape[1] == \
        report.input_shape[2] else None
    rid = src.id if src else name
    where = _write_cost_records(profiles, rid, report, pairs, card, cfg, src) if record else None
    reference = None
    if ref is not None and ref.macs:
        diff = report.totals["conv_linear_macs"] / ref.macs - 1
        reference = {"macs": ref.macs, "params": ref.params, "source": ref.source, "macs_diff": round(diff, 5)}
    if json_out:
        print_json(_cost_json(rid, cfg, report, reference, where, src, weights_info, pairs if separable else None,
                              check))
        return
    _print_summary(console, rid if src is None else f"{rid} ({src.label})", report, reference)
    if weights_info is not None:
        _print_weights(console, weights_info, report)
    if per_layer:
        _print_layers(console, report)
    if separable:
        _print_pairs(console, pairs)
    if check is not None:
        _print_cross_check(console, check)
    for u in report.unsupported:
        warn(f"no cost formula for op {u.op!r} ({u.count}x, in {', '.join(u.layers[:3])}"
             f"{', ...' if len(u.layers) > 3 else ''}): not counted; the totals above leave it out")
    if where:
        console.print(f"records appended to {where}", highlight=False)


def _write_cost_records(profiles: str, rid: str, report: Any, pairs: list, card: Any, cfg: dict, src: Any) -> str:
    """The cost record (and one per separable pair) appended to ``profiles``; returns where."""
    dataset = card.dataset if card and cfg["input_size"] == card.input_size and src is None else None
    recs = [report.to_record(rid, dataset=dataset)]
    recs += [p.to_record(rid, input_shape=report.input_shape) for p in pairs]
    if src is not None:
        from edgecnn.cost.sources import source_fields

        for r in recs:
            r.metrics.update(source_fields(src))
    return _store(profiles, recs)


def _cost_json(rid: str, cfg: dict, report: Any, reference: Any, where: Any, src: Any, weights_info: Any,
               pairs: Optional[list], check: Any) -> dict[str, Any]:
    """What ``cost --json`` prints."""
    out: dict[str, Any] = {"model": rid, "config": {k: v for k, v in cfg.items() if k != "count_size"},
                           **report.to_dict(), "reference": reference, "record": where}
    if src is not None:
        out["source"] = {"kind": src.kind, "label": src.label, "spec": src.spec, "id": src.id}
    if weights_info is not None:
        out["weights"] = weights_info
    if pairs is not None:
        out["separable"] = [{**p.to_dict(), "matches": p.matches} for p in pairs]
    if check is not None:
        out["cross_check"] = check.to_dict()
    return out


def _count_zoo(name, size, side, num_classes, precision, cross, need_model=False):
    """A zoo model: at its card's size and classes from the table counted ahead
    (``edgecnn.cost.zoo_table``: no torch), else counted on the meta device
    (shapes only: the same table, faster) unless fvcore needs real tensors.
    The model is None where the table answered."""
    square = size is None or (len(size) <= 2 and len(set(size)) == 1)
    if square and not (cross or need_model or num_classes is not None):
        from edgecnn.cost.zoo_table import lookup
        from edgecnn.models.names import model_card

        found = lookup(name, precision)
        if found is not None and side in (None, found[1]["input_size"]):
            report, cfg = found
            return report, {**cfg, "count_size": cfg["input_size"]}, model_card(name), None
    import torch

    from edgecnn.cost.engine import count_cost
    from edgecnn.errors import InvalidOptionError
    from edgecnn.models import create_model

    with torch.device("cpu" if cross else "meta"):
        model = create_model(name, input_size=side, num_classes=num_classes)
    cfg = dict(model.edgecnn_config)
    count_size: Any = size if size is not None and len(size) > 1 else cfg["input_size"]
    try:
        report = count_cost(model, count_size, precision=precision)
    except InvalidOptionError:
        if cross:
            raise
        # meta kernels word shape errors tersely; the same failure on real tensors says what does not fit
        report = count_cost(_real_zoo(name, side, num_classes), count_size, precision=precision)
    cfg["count_size"] = count_size
    return report, cfg, model.edgecnn_card, model


def _real_zoo(name, side, num_classes):
    from edgecnn.models import create_model

    return create_model(name, input_size=side, num_classes=num_classes)


def _count_source(spec, side, precision, cross, num_classes):
    """A file, factory or timm model (``edgecnn.models.sources``)."""
    from edgecnn.cost.sources import count_source
    from edgecnn.errors import InvalidOptionError
    from edgecnn.models.sources import resolve_source

    if num_classes is not None:
        raise InvalidOptionError("--num-classes applies to zoo models; a file or factory has its own classifier")
    src = resolve_source(spec, input_size=side)
    if cross and not src.is_pytorch:
        raise InvalidOptionError(f"--cross-check counts a PyTorch module with fvcore; {spec} is a {src.label}")
    report = count_source(src, precision)
    cfg = {"name": src.id, "num_classes": src.num_classes, "input_size": src.input_size,
           "count_size": src.input_shape}
    return report, cfg, None, src


def _weights_info(model, spec, name: str) -> dict[str, Any]:
    """The weights checked against the built architecture (one line when they do
    not fit), with their published figures."""
    from edgecnn.models.weights import check_torchvision_fit

    cfg = model.edgecnn_config
    how = None
    if spec.kind == "torchvision":
        how = check_torchvision_fit(model, spec, name, cfg["input_size"], cfg["num_classes"])
    gmacs = spec.extra.get("gmacs")
    return {"name": spec.name, "source": spec.source, "loads_by": how, "num_params": spec.num_params,
            "macs": int(round(gmacs * 1e9)) if gmacs else None, "top1": spec.top1,
            "preprocessing": spec.preprocessing.to_dict() if spec.preprocessing else None}


def _print_weights(console, info: dict[str, Any], report) -> None:
    from edgecnn.data.preprocess import Preprocessing

    t = report.totals
    parts = [f"weights {info['name']} ({info['source']}) fit this architecture"
             + (f" (tensors matched by {info['loads_by']})" if info.get("loads_by") else "")]
    if info.get("num_params") is not None:
        parts.append(f"published {info['num_params']:,} parameters (counted {t['params']:,})")
    if info.get("macs"):
        parts.append(f"{info['macs'] / 1e9:.3f} GMACs (counted {t['conv_linear_macs'] / 1e9:.3f})")
    if info.get("top1") is not None:
        parts.append(f"published top-1 {info['top1']:.2f}%")
    console.print("; ".join(parts), highlight=False)
    if info.get("preprocessing"):
        console.print(f"preprocessing: {Preprocessing.from_dict(info['preprocessing']).describe()}", highlight=False)


def _print_summary(console, name: str, report, reference) -> None:
    from rich.table import Table

    from edgecnn.console import human

    t = report.totals
    table = Table(title=f"{name}  {report.batch}x{'x'.join(map(str, report.input_shape))}  {report.precision}",
                  show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("conv/linear MACs", f"{t['conv_linear_macs']:,} ({human(t['conv_linear_macs'])})")
    table.add_row("other ops (MAC-equivalents)", f"{t['other_macs']:,} ({human(t['other_macs'])})")
    table.add_row("parameters", f"{t['params']:,} ({human(t['params'])})")
    table.add_row("bytes read + written", f"{t['bytes']:,} ({human(t['bytes'], 'B')})")
    table.add_row("arithmetic intensity", f"{t['arithmetic_intensity']:.2f} MACs/byte")
    table.add_row("layers (rows)", str(t["layers"]))
    if reference:
        table.add_row("reference MACs", f"{reference['macs']:,} ({reference['macs_diff'] * 100:+.2f}%)")
    console.print(table)


def _print_layers(console, report) -> None:
    from rich.table import Table

    from edgecnn.console import human

    table = Table(title="per layer (MACs per batch; bytes at the report's precision)")
    for col in ("layer", "type", "input", "output", "k", "s", "g", "MACs", "params", "read", "written", "MACs/B"):
        table.add_column(col, justify="left" if col in ("layer", "type") else "right")
    for r in report.layers:
        table.add_row(r.name, r.type, "x".join(map(str, r.input_shape)), "x".join(map(str, r.output_shape)),
                      "x".join(map(str, r.kernel)) if r.kernel else "", str(r.stride[0]) if r.stride else "",
                      str(r.groups) if r.groups else "", human(r.macs), human(r.params), human(r.bytes_read),
                      human(r.bytes_written), f"{r.arithmetic_intensity:.2f}")
    console.print(table)


def _print_pairs(console, pairs) -> None:
    from rich.table import Table

    table = Table(title=f"depthwise-separable pairs ({len(pairs)}); Df = side of the map the pair outputs "
                        "(in>out when strided)")
    table.add_column("depthwise conv", overflow="fold")
    for col in _PAIR_COLS:
        table.add_column(col, justify="right")
    for p in pairs:
        table.add_row(p.depthwise, *_ratio_row(p))
    console.print(table)
    if not pairs:
        console.print("no depthwise conv followed by a pointwise conv in this model")


def _print_cross_check(console, check) -> None:
    from rich.table import Table

    table = Table(title="cross-check (all in MACs; torch FLOPs / 2)")
    for col in ("counter", "conv/linear MACs", "other", "note"):
        table.add_column(col, justify="left" if col in ("counter", "note") else "right")
    table.add_row("edgecnn", f"{check.edgecnn['conv_linear_macs']:,}", f"{check.edgecnn['other_macs']:,}", "")
    fv, tc = check.fvcore, check.torch
    if "error" in fv:
        table.add_row("fvcore", "-", "-", fv["error"])
    else:
        skipped = ", ".join(sorted(fv["skipped_ops"])) or "none"
        table.add_row("fvcore", f"{fv['conv_linear_macs']:,}", f"{fv['other_macs']:,}", f"skips: {skipped}")
    if "error" in tc:
        table.add_row("torch", "-", "-", tc["error"])
    else:
        table.add_row("torch", f"{tc['conv_linear_macs']:,}", "0", "conv and matrix products only")
    console.print(table)
    verdict = "agree exactly" if check.conv_linear_agree else "DISAGREE"
    console.print(f"conv/linear MACs {verdict}; {len(check.rows)} layer rows differ on other ops:", highlight=False)
    reasons: dict[str, int] = {}
    for r in check.rows:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        console.print(f"  {n:4d} x {reason}", highlight=False)
