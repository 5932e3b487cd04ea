"""`edgecnn calibrate`: measure at most 10 zoo models on a device and refit its latency model."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate_cmd(
        device: str = typer.Option(..., "--device", "-d", help="Device name from devices/*.toml (see `edgecnn "
                                   "devices`); `local` is this machine."),
        runtimes: Optional[str] = typer.Option(None, "--runtimes", "-r", help="Runtimes to calibrate (default: "
                                               "the device's)."),
        models: Optional[str] = typer.Option(None, "--models", "-m", help="Zoo models to measure (default: at "
                                             "most --max-models chosen to spread over op mixes and sizes)."),
        max_models: int = typer.Option(10, "--max-models", min=1, max=16, help="How many models to measure."),
        precision: str = typer.Option("fp32", "--precision", help="fp32 | fp16 | int8."),
        batch: int = typer.Option(1, "--batch", min=1),
        threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads per runtime."),
        accel: str = typer.Option("cpu", "--accel", help="cpu | cuda."),
        layers: bool = typer.Option(True, "--layers/--no-layers", help="Also time each layer of the measured models "
                                    "(local devices): predictions then come from the device's kernel table."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the models that would be measured; measure "
                                     "nothing."),
        out: str = typer.Option("profiles", "--out", help="Records folder (measurements and calibration records)."),
        export_dir: str = typer.Option("export", "--export-dir", help="Where artifacts are written and reused."),
    ) -> None:
        """Measure a few zoo models on DEVICE and refit its latency-model parameters.

        The models are chosen to spread over op mixes and sizes; the fit starts
        from the prior of the other devices with records and is written as a
        `calibration` record, which `edgecnn profile --device DEVICE --predict`
        then uses (its records say so). With per-layer times (the default on
        a local device) predictions come from the device's kernel table."""
        from edgecnn.console import console, err_console
        from edgecnn.devices.spec import load_device
        from edgecnn.errors import InvalidOptionError
        from edgecnn.registry import expand_names
        from edgecnn.runtime import RUNNERS

        if precision not in ("fp32", "fp16", "int8"):
            raise InvalidOptionError(f"--precision must be fp32, fp16 or int8, got {precision!r}")
        if accel not in ("cpu", "cuda"):
            raise InvalidOptionError(f"--accel must be cpu or cuda, got {accel!r}")
        spec = load_device(device)
        rts = expand_names(RUNNERS, runtimes) if runtimes else [r for r in spec.runtimes if r in RUNNERS]
        if not rts:
            raise InvalidOptionError(f"device {spec.name!r} lists no runtime edgecnn knows; give --runtimes")
        names = None
        if models:
            from edgecnn.models.names import model_names

            names = expand_names(model_names(), models)
            if len(names) > 16:
                raise InvalidOptionError(f"--models: {len(names)} models; a calibration measures at most 16")
        from edgecnn.profile.calibrate import calibrate_device, choose
        from edgecnn.profile.pipeline import ProfileOptions
        from edgecnn.records import RecordStore

        opts = ProfileOptions(runtimes=rts, precision=precision, batch=batch, threads=threads, accel=accel,
                              layers=layers, separable=False, export_dir=export_dir)
        if dry_run:
            console.print(", ".join(names or choose(spec, rts[0], opts, max_models)))
            return
        recs = calibrate_device(spec, opts, RecordStore(out), names, max_models,
                                progress=lambda message=None, advance=0: message and err_console.print(message))
        _print(console, recs, spec.name, out)


def _print(console, recs, device: str, out: str) -> None:
    from rich.table import Table

    from edgecnn.errors import EdgeCNNError

    if not recs:
        raise EdgeCNNError(f"no measurement of {device} succeeded: nothing to calibrate (see the latency records "
                           f"under {out}/)")
    t = Table(title=f"latency model calibrated on {device}")
    for col in ("unit", "runtime", "configuration", "models", "fit median |error|",
                "leave-one-out |error|: kernels / classes", "predicts with", "prior from"):
        t.add_column(col)

    def pct(v):
        return f"{v * 100:.1f} %" if v is not None else "-"

    for r in recs:
        m = r.metrics
        loo = m.get("leave_one_out_error") or {}
        t.add_row(m["compute_unit"], r.runtime, r.variant or "-", str(m["measurements"]), pct(m.get("fit_error")),
                  f"{pct(loo.get('kernels'))} / {pct(loo.get('classes'))}" if loo else "- (no per-layer times)",
                  m.get("prediction_method") or "classes",
                  ", ".join(m.get("prior_devices") or []) or "the roofline (no other device)")
    console.print(t)
    console.print(f"{len(recs)} calibration records written to {out}/; `edgecnn profile --device {device} --predict` "
                  f"now uses them")
