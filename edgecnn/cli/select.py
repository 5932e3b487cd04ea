"""`edgecnn select`: which option to ship to one device under budgets."""

from __future__ import annotations

from typing import Optional

import typer

from edgecnn.errors import EdgeCNNError


class NothingMeets(EdgeCNNError):
    """No option meets the constraints: one line naming the binding one, exit 2."""


def register(app: typer.Typer) -> None:
    @app.command("select")
    def select_cmd(
        device: str = typer.Option("local", "--device", "-d", help="Device whose records to choose from (a name "
                                   "with latency records, or a devices/*.toml alias or prefix)."),
        max_latency_ms: Optional[float] = typer.Option(None, "--max-latency-ms", help="Latency budget in ms, "
                                                       "checked against p50 (p90 with --tail)."),
        tail: bool = typer.Option(False, "--tail", help="Check the latency budget against p90, not p50."),
        min_top1: Optional[float] = typer.Option(None, "--min-top1", help="Top-1 floor in percent (0-100)."),
        max_size_mb: Optional[float] = typer.Option(None, "--max-size-mb", help="Artifact size budget, MB "
                                                    "(10^6 bytes)."),
        max_memory_mb: Optional[float] = typer.Option(None, "--max-memory-mb", help="Peak resident memory "
                                                      "budget of the process running the model, MB."),
        dataset: Optional[str] = typer.Option(None, "--dataset", help="Only options with a top-1 on this "
                                              "dataset (cifar10, imagenet, ...)."),
        batch: Optional[int] = typer.Option(None, "--batch", help="Only options at this batch size."),
        rank_by: Optional[str] = typer.Option(None, "--rank-by", help="accuracy | latency (default: accuracy "
                                              "when a latency budget is given, else latency)."),
        profiles: str = typer.Option("profiles", "--profiles", help="Folder of records (JSONL) to read."),
        top: int = typer.Option(10, "--top", min=1, help="Options to list."),
        json_out: bool = typer.Option(False, "--json", help="Print the whole ranking as JSON."),
    ) -> None:
        """Rank every (model, weights, runtime, format, precision, batch) option on a device that meets the
        budgets, and name the one to ship with the commands that rebuild and re-measure it.

        Measured latency ranks before predicted, measured accuracy before published; an export that did
        not pass its parity check is never chosen. When nothing fits, one line says which budget binds
        and by how much the closest option misses it (exit 2)."""
        from edgecnn.console import print_json
        from edgecnn.select import select

        sel = select(profiles, device, max_latency_ms=max_latency_ms, min_top1=min_top1, max_size_mb=max_size_mb,
                     max_memory_mb=max_memory_mb, dataset=dataset, batch=batch, tail=tail, rank_by=rank_by)
        if json_out:
            print_json(sel.to_dict())
        elif sel.chosen is not None:
            _print(sel, top)
        if sel.chosen is None:
            raise NothingMeets(f"{sel.message} (records: {sel.profiles_dir})")


def _mb(v: Optional[float], scale: float = 1.0) -> str:
    return "-" if v is None else f"{v / scale:.3g}"


def _latency_from(o) -> str:
    if o.source == "measured":
        return "measured" + ("*" if o.noisy else "")
    band = o.error_band or {}
    if band.get("validated"):
        return f"predicted ±{band['median_abs_error'] * 100:.0f} %"
    return "predicted, no band"


TOP1_FROM = {"measured": "measured", "pytorch_fp32_parity": "fp32+parity", "published": "published", "none": "-"}


def _print(sel, top: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    from edgecnn.console import console

    c = sel.constraints

    def say(text: str) -> None:  # soft_wrap: a command stays one line, to copy and paste
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    table = Table(title=f"edgecnn select · {sel.device} · {c.describe()} · ranked by {c.ranking}")
    for col in ("#", "model", "weights", "runtime", "format", "prec", "batch", f"{c.statistic} ms", "latency",
                "top-1 %", "top-1", "size MB", "peak MB"):
        right = col in ("#", "batch") or col.endswith((" ms", "%", "MB"))
        table.add_column(col, justify="right" if right else "left", overflow="fold")
    for i, o in enumerate(sel.ranked[:top], 1):
        lat = o.budget_latency(c.tail)
        table.add_row(str(i), o.model, o.weights_label, escape(o.runtime + (f"[{o.variant}]" if o.variant and
                      o.variant != "predicted" else "")), o.format, o.precision, str(o.batch),
                      f"{lat:.3g}" + (" mean" if o.statistic == "mean" and not c.tail else ""),
                      _latency_from(o), "-" if o.top1 is None else f"{o.top1:.2f}", TOP1_FROM[o.accuracy.tier],
                      _mb(o.size_bytes, 1e6), _mb(o.memory_mb))
    console.print(table)
    say("latency: measured* = noisy (spread > 25 % or drift > 10 %); predicted ± the median error of its validated "
        "band. top-1: measured in this format and precision, fp32+parity = PyTorch fp32 of the same weights behind a "
        "passed parity check, published = quoted, not measured here")
    if len(sel.ranked) > top:
        say(f"... {len(sel.ranked) - top} more eligible option(s) (--top, or --json for all)")
    if sel.excluded:
        counts = ", ".join(f"{n} {why}" for why, n in sel.reason_counts().items())
        say(f"excluded {len(sel.excluded)} option(s): {counts}")
        for o in sel.excluded[:20]:
            say(f"  - {o.label} ({o.weights_label}): " + "; ".join(r.text for r in o.reasons))
        if len(sel.excluded) > 20:
            say(f"  ... and {len(sel.excluded) - 20} more (--json lists all)")
    best = sel.chosen
    info = sel.rebuild()
    say(f"chosen: {best.label}, weights {best.weights or 'unknown'}")
    say(f"  latency {best.source}: {c.statistic if c.tail else best.statistic} {best.budget_latency(c.tail):.3g} ms; top-1 "
        f"{'unknown' if best.top1 is None else f'{best.top1:.2f} %'} ({best.accuracy.note}); size "
        f"{_mb(best.size_bytes, 1e6)} MB ({best.size_from}); peak memory {_mb(best.memory_mb)} MB "
        f"({best.memory_from})")
    say(f"  artifact: {info['artifact'] or 'none here'} ({info['artifact_note']})")
    say("  rebuild and re-measure:")
    for cmd in info["commands"]:
        say(f"    {cmd}")
    if info["note"]:
        say(f"  note: {info['note']}")
    for o in sel.challengers:
        say(f"  a less certain option beats it on latency and top-1: {o.label} ({o.weights_label}; latency "
            f"{o.source}, top-1 {o.accuracy.tier.replace('_', ' ')}): measure it to settle")
    for note in sel.notes:
        say(f"note: {note}")
    for line in sel.skipped[:5]:
        say(f"skipped unreadable record: {line}")
