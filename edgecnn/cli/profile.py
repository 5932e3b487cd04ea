"""`edgecnn profile` and `edgecnn runtimes`."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("profile")
    def profile_cmd(
        models: Optional[str] = typer.Option(None, "--models", "-m",
                                             help="Comma-separated zoo names or wildcards, .onnx/.tflite/.pt2/.pt "
                                                  "files, package.module:callable or timm:<name> (default: "
                                                  "mobilenet_v1,mobilenet_v2,mobilenet_v3_small,resnet18,resnet50)."),
        device: str = typer.Option("local", "--device", "-d", help="Device name from devices/*.toml "
                                   "(exact, alias or unique prefix; see `edgecnn devices`)."),
        runtimes: Optional[str] = typer.Option(None, "--runtimes", "-r",
                                               help="torch,onnxruntime,litert,tensorrt,openvino,executorch,ncnn,mnn "
                                                    "(default: the device's; see `edgecnn runtimes`)."),
        precision: str = typer.Option("fp32", "--precision", help="fp32 | fp16 | int8."),
        batch: int = typer.Option(1, "--batch", min=1),
        input_size: Optional[int] = typer.Option(None, "--input-size", help="Input side in pixels (default: the "
                                                 "model card's)."),
        threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads per runtime "
                                              "(default: usable cores, at most 4; recorded)."),
        accel: str = typer.Option("cpu", "--accel", help="cpu | cuda (torch device, ONNX Runtime provider)."),
        channels_last: bool = typer.Option(False, "--channels-last", help="torch runner: channels-last (NHWC) "
                                           "memory format."),
        cuda_graphs: bool = typer.Option(False, "--cuda-graphs", help="torch runner: capture and replay a CUDA "
                                         "graph (needs --accel cuda)."),
        compile_mode: Optional[str] = typer.Option(None, "--compile", help="torch runner: torch.compile with this "
                                                   "mode (default, max-autotune, max-autotune-no-cudagraphs, "
                                                   "reduce-overhead); the compile time is recorded."),
        runs: Optional[int] = typer.Option(None, "--runs", min=1, help="Minimum timed runs per runtime (default 20)."),
        min_time: Optional[float] = typer.Option(None, "--min-time", min=0.0,
                                                 help="Minimum timed seconds per runtime (default 1.0)."),
        warmup: Optional[int] = typer.Option(None, "--warmup", min=0, help="Minimum warm-up calls (default 5)."),
        layers: bool = typer.Option(True, "--layers/--no-layers", help="Per-layer times joined to the cost table."),
        separable: bool = typer.Option(True, "--separable/--no-separable",
                                       help="Time each separable block against its standard conv."),
        shape: list[str] = typer.Option([], "--shape", help="Extra separable check shape M,N,Dk,Df[,stride] "
                                        "(Df = input side); repeatable."),
        predict: bool = typer.Option(False, "--predict", help="Also write roofline-predicted records (for an "
                                     "unreachable device: the only way to get figures for it)."),
        isolate: bool = typer.Option(True, "--isolate/--in-process", help="Time each runtime in a process of its "
                                     "own, rounds alternating (default), or all in this process."),
        weights: Optional[str] = typer.Option(None, "--weights", help="Pretrained weights for every model "
                                              "(a torchvision name such as DEFAULT, or a file): the artifacts are "
                                              "exported, and INT8 calibrated, from them."),
        force: bool = typer.Option(False, "--force", help="Re-measure what is already in the records."),
        out: str = typer.Option("profiles", "--out", help="Records folder (profiles/<device>/<kind>.jsonl)."),
        export_dir: str = typer.Option("export", "--export-dir", help="Where artifacts are written and reused."),
        export_jobs: Optional[int] = typer.Option(None, "--export-jobs", min=1,
                                                  help="Zoo models' missing artifacts are made first, this many "
                                                       "at a time: this process and N-1 helper processes "
                                                       "(default: 2, or 1 on one core)."),
        report: bool = typer.Option(True, "--report/--no-report", help="Rebuild reports/index.html at the end."),
        json_out: bool = typer.Option(False, "--json", help="Print the records written as JSON."),
    ) -> None:
        """Time models on PyTorch, ONNX Runtime, LiteRT, OpenVINO, ExecuTorch, NCNN, MNN (and TensorRT) on a device.

        Latency is the median of interleaved runs (p90, p99, spread recorded);
        per-layer times are joined to MACs and bytes; each runtime runs in a
        process of its own; peak memory and artifact size are recorded. An
        unreachable device is an error unless --predict asks for roofline
        predictions, marked as predicted."""
        # Options are checked before the pipeline (torch, the zoo, the exporters: seconds) is imported,
        # so a usage error is one quick line.
        from edgecnn.console import err_console, warn

        check_options(precision, accel, cuda_graphs, compile_mode)
        spec, rts, names, shapes = resolve_targets(models, device, runtimes, input_size, shape, weights)
        from edgecnn.cli.quiet import third_party_log

        with third_party_log("profile") as log:  # TensorFlow's, ExecuTorch's, JAX's lines: to the log file
            from edgecnn.profile.pipeline import ProfileOptions

            opts = ProfileOptions(runtimes=rts, precision=precision, batch=batch, input_size=input_size,
                                  threads=threads, accel=accel, channels_last=channels_last, cuda_graphs=cuda_graphs,
                                  compile=compile_mode, timing=timing_config(runs, min_time, warmup), layers=layers,
                                  separable=separable, shapes=shapes, export_dir=export_dir, force=force,
                                  predict=predict, isolate=isolate, weights=weights)
            if export_jobs is not None:
                opts.export_jobs = export_jobs
            written = run_profile(spec, names, opts, out, json_out)
            if report:
                _rebuild_report(out, warn)
            if log is not None and log.has_lines() and any(not r.ok for r in written):
                err_console.print(f"third-party messages of this run: {log.path}", markup=False, highlight=False)

    @app.command("runtimes")
    def runtimes_cmd(
        probe: bool = typer.Option(False, "--probe", help="Also ask each installed runtime whether it works here "
                                   "(imports it: seconds)."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """List runtimes and whether each is installed on this machine (and why not), without loading them."""
        from edgecnn.cli.catalog import runtime_status
        from edgecnn.console import print_json

        rows = runtime_status(deep=probe)
        if json_out:
            print_json(rows)
            return
        _print_runtimes(rows, probe)


def _print_runtimes(rows: list, probed: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from edgecnn.console import console

    table = Table(title="edgecnn runtimes (this machine)")
    for col in ("runtime", "format", "precisions", "per-layer", "extra", "installed",
                "works here" if probed else "why not"):
        table.add_column(col)
    for r in rows:
        status = ("yes" if r["available"] else escape(f"no: {r['reason']}")) if probed else escape(r["reason"] or "")
        table.add_row(r["runtime"], r["format"], ", ".join(r["precisions"]), "yes" if r["per_layer"] else "no",
                      r["extra"] or "-", r["version"] or "no", status)
    console.print(table)
    if not probed:
        console.print("installed: the Python package is there (found without importing it); `edgecnn runtimes "
                      "--probe` loads each runtime to check it works here (a CUDA device for TensorRT).",
                      markup=False, highlight=False)


def run_profile(spec, names: list[str], opts, out: str, json_out: bool) -> list:
    """Profile ``names`` (and ``opts.shapes``) on ``spec`` into the records under ``out``, with a
    progress bar; print the records written (``json_out``) or the latency table. Returns them."""
    from edgecnn.console import console, err_console, print_json, warn
    from edgecnn.profile.pipeline import profile, profile_shapes
    from edgecnn.records import RecordStore

    store = RecordStore(out)
    written = []
    with _progress(err_console, len(names)) as progress:
        if names:
            written += profile(names, spec, opts, store, progress)
        if opts.shapes and spec.is_local:
            written += profile_shapes(opts.shapes, spec, opts, store, progress)
        elif opts.shapes:
            warn("--shape runs on the local machine only; ignored for a remote device")
    if json_out:
        print_json([r.to_dict() for r in written])
    else:
        _summary(console, store, spec.name, [record_name(n, opts.input_size) for n in names], opts.runtimes, opts,
                 written)
    return written


def check_options(precision: str, accel: str, cuda_graphs: bool, compile_mode: Optional[str]) -> None:
    """The options of `edgecnn profile` that stand alone: one line each, before anything loads."""
    from edgecnn.errors import InvalidOptionError

    if precision not in ("fp32", "fp16", "int8"):
        raise InvalidOptionError(f"--precision must be fp32, fp16 or int8, got {precision!r}")
    if accel not in ("cpu", "cuda"):
        raise InvalidOptionError(f"--accel must be cpu or cuda, got {accel!r}")
    if cuda_graphs and accel != "cuda":
        raise InvalidOptionError("--cuda-graphs needs --accel cuda")
    if compile_mode is not None:
        from edgecnn.runtime.torch_runner import COMPILE_MODES

        if compile_mode not in COMPILE_MODES:
            raise InvalidOptionError(f"--compile must be one of {', '.join(COMPILE_MODES)}, got {compile_mode!r}")
        if cuda_graphs:
            raise InvalidOptionError("--compile and --cuda-graphs do not combine (the max-autotune and "
                                     "reduce-overhead modes capture CUDA graphs themselves)")


def resolve_targets(models: Optional[str], device: str, runtimes: Optional[str], input_size: Optional[int],
                    shape: list[str], weights: Optional[str]) -> tuple:
    """(device spec, runtimes, model names, separable shapes) of `edgecnn profile`, every name and size
    checked (zoo names and runtimes from the static tables: no torch, no runtime imported)."""
    from edgecnn.cli.catalog import runtime_names
    from edgecnn.console import warn
    from edgecnn.devices.spec import load_device
    from edgecnn.errors import InvalidOptionError
    from edgecnn.models.names import model_names
    from edgecnn.profile import DEFAULT_MODELS
    from edgecnn.registry import expand_names

    if input_size is not None and input_size < 1:
        raise InvalidOptionError(f"--input-size must be a positive number of pixels, got {input_size}")
    shapes = []
    if shape:
        from edgecnn.profile.separable import parse_shape

        shapes = [parse_shape(s) for s in shape]
    known = runtime_names()
    rts = expand_names(known, runtimes) if runtimes else None
    zoo = model_names()
    names = model_list(models, input_size) if models else (
        [] if shapes else [m for m in DEFAULT_MODELS if m in zoo])
    if models is None and not shapes:
        missing = [m for m in DEFAULT_MODELS if m not in zoo]
        if missing:
            warn(f"default models not registered in this edgecnn: {', '.join(missing)}")
    if weights is not None:  # a name a model has no weights for, or a missing file: one line, before any work
        from edgecnn.models.weights import cached_file, check_size_and_classes, resolve_weights

        for name in names:
            wspec = resolve_weights(weights, name)
            check_size_and_classes(wspec, name, input_size, None)
            if wspec.kind == "torchvision":
                cached_file(wspec)
    spec = load_device(device)  # the local machine's peaks: numpy, measured once and cached
    rts = rts or [r for r in spec.runtimes if r in known]
    if not rts:
        raise InvalidOptionError(f"device {spec.name!r} lists no runtime edgecnn knows; give --runtimes")
    return spec, rts, names, shapes


def timing_config(runs: Optional[int], min_time: Optional[float], warmup: Optional[int]):
    """The timing settings: the pipeline's defaults with the options given."""
    from edgecnn.profile.pipeline import DEFAULT_TIMING
    from edgecnn.runtime.timing import TimingConfig

    settings = {**DEFAULT_TIMING.to_dict(), **{k: v for k, v in (
        ("runs", runs), ("min_time_s", min_time), ("warmup", warmup)) if v is not None}}
    settings["max_time_s"] = max(settings["max_time_s"], settings["min_time_s"] * 2)
    return TimingConfig(**settings)


def model_list(text: str, input_size) -> list[str]:
    """``--models``: zoo names and wildcards expand over the zoo; files,
    factories and timm names are resolved now, so a bad one is one line before
    anything is measured."""
    from edgecnn.models.names import model_names
    from edgecnn.models.sources import is_source_spec, resolve_source
    from edgecnn.registry import expand_names

    out: list[str] = []
    for item in [p.strip() for p in _split_models(text) if p.strip()]:
        if is_source_spec(item):
            resolve_source(item, input_size=input_size)
            out.append(item)
        else:
            out += expand_names(model_names(), item)
    if input_size is not None:  # a size a zoo model cannot take: one line, from its card
        from edgecnn.models.info import check_config

        for name in out:
            if not is_source_spec(name):
                check_config(name, input_size=input_size)
    return list(dict.fromkeys(out))


def record_name(spec: str, input_size) -> str:
    """The name records give the model ``spec``: itself for a zoo model, the source's id otherwise."""
    from edgecnn.models.sources import is_source_spec, resolve_source

    return resolve_source(spec, input_size=input_size).id if is_source_spec(spec) else spec


def _split_models(text: str) -> list[str]:
    """Split on commas outside parentheses (a factory's ``pkg.mod:fn(a=1, b=2)``)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return parts + [cur]


class _progress:
    """A rich progress bar on stderr; calling it sets the text or advances."""

    def __init__(self, console, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(TextColumn("[bold]profile"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          TextColumn("{task.description}"), console=console, transient=False)
        self.total = max(1, total)

    def __enter__(self):
        self.p.start()
        self.task = self.p.add_task("", total=self.total)
        return self

    def __call__(self, message=None, advance: int = 0) -> None:
        if message:
            # lines a user must see after the bar is gone (the bar text is overwritten)
            if any(word in message for word in ("PREDICTED", "unsupported", "already measured", "warning:")):
                self.p.console.print(message, markup=False, highlight=False)
            message = message.replace("[", "(").replace("]", ")")
            self.p.update(self.task, description=message)
        if advance:
            self.p.advance(self.task, advance)

    def __exit__(self, *exc) -> None:
        self.p.update(self.task, description="done")
        self.p.stop()


def _summary(console, store, device: str, names, rts, opts, written) -> None:
    from rich.markup import escape
    from rich.table import Table

    from edgecnn.console import human
    from edgecnn.profile.pipeline import measurement_variant
    from edgecnn.schema import headline_latency

    latest = store.latest(kind="latency", device=device)
    rows = []
    for m in names:
        for rt in rts:
            cands = [r for r in latest.values() if r.model == m and r.runtime == rt and r.precision == opts.precision
                     and r.batch == opts.batch and r.variant in (measurement_variant(opts, rt), "predicted")]
            if opts.input_size:
                cands = [r for r in cands if r.input_shape and r.input_shape[-1] == opts.input_size]
            measured = [r for r in cands if r.source == "measured"]
            rows += (measured or cands)[-1:] if not opts.predict else cands
    table = Table(title=f"latency on {device} ({opts.precision}, batch {opts.batch}); median is the headline")
    for col, just in (("model", "left"), ("runtime", "left"), ("status", "left"), ("median ms", "right"),
                      ("p90 ms", "right"), ("runs", "right"), ("thr", "right"), ("MACs", "right"),
                      ("GMAC/s", "right"), ("+mem MB", "right"), ("peak MB", "right"), ("file MB", "right"),
                      ("note", "left")):
        table.add_column(col, justify=just, no_wrap=col != "note")
    notes: list[str] = []  # one footnote per distinct (runtime, status, error), however many models share it
    note_of: dict[tuple, int] = {}
    for r in rows:
        m = r.metrics
        p50, stat = headline_latency(r)
        note = "" if stat in ("p50", "none") else f"{stat} (no median)"
        if r.source == "predicted":
            band = m.get("error_band") or {}
            note = "PREDICTED" + (f", {band['within_25_pct']:.0f}% of validated within +-25%"
                                  if band.get("validated") else ", error not validated")
        elif m.get("noisy"):
            note = "noisy"
        if r.error:
            key = (r.runtime, r.status, r.error)
            if key not in note_of:
                notes.append(f"{r.runtime}: {r.status}: {r.error}")
                note_of[key] = len(notes)
            note = (note + " " if note else "") + f"[{note_of[key]}]"
        table.add_row(r.model, r.runtime or "-", r.status, f"{p50:.2f}" if p50 else "-",
                      f"{m['latency_ms_p90']:.2f}" if m.get("latency_ms_p90") else "-", str(m.get("runs", "-")),
                      str(m.get("threads", "-")), human(m.get("macs")),
                      f"{m['achieved_gmacs_per_s']:.1f}" if m.get("achieved_gmacs_per_s") else "-",
                      _mb(m.get("memory_added_mb")), _mb(m.get("memory_peak_mb")),
                      _mb(m["artifact_bytes"] / 2**20 if m.get("artifact_bytes") else None), escape(note))
    console.print(table)
    for i, n in enumerate(notes, 1):
        console.print(f"[{i}] {n}", markup=False, highlight=False)
    pred = [r for r in rows if r.source == "predicted"]
    if pred:
        console.print(f"PREDICTED rows are latency-model estimates, not measurements: "
                      f"{pred[0].metrics.get('prediction_reason', '')}", markup=False, highlight=False)
    sep = [r for r in written if r.kind == "separable" and r.ok]
    if sep:
        _separable_summary(console, sep)
    n_fail = sum(1 for r in written if not r.ok)
    console.print(f"{len(written)} records written to {store.root}/{device}/ ({n_fail} not ok); "
                  "a rerun skips what is measured (use --force to redo). +mem: resident memory the runtime added "
                  "to load and run the model; peak: its process's peak; file: the artifact on disk.",
                  highlight=False)


def _mb(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def _separable_summary(console, recs) -> None:
    """Blocks of a model are summed per runtime (one row); shapes from --shape get a row each."""
    from rich.table import Table

    table = Table(title="separable check: depthwise+pointwise / standard conv, latency by the clock")
    for col, just in (("model", "left"), ("blocks / shape", "left"), ("runtime", "left"),
                      ("1/N+1/Dk^2", "right"), ("counted MACs", "right"), ("measured time", "right"),
                      ("range of blocks", "right")):
        table.add_column(col, justify=just)
    groups: dict[tuple, list] = {}
    for r in recs:
        key = (r.model, r.runtime, r.variant if r.model == "layer" else None)
        groups.setdefault(key, []).append(r)
    for (model, rt, variant), rs in groups.items():
        ms = [r.metrics for r in rs]
        n = len(ms)
        analytic = sum(m["analytic_ratio"] for m in ms) / n
        counted = sum(m["counted_ratio"] for m in ms) / n
        measured = sum(m["separable_ms_p50"] for m in ms) / sum(m["standard_ms_p50"] for m in ms)
        lo, hi = min(m["measured_ratio"] for m in ms), max(m["measured_ratio"] for m in ms)
        label = variant or f"{n} blocks (mean ratios; time summed)"
        table.add_row(model, label, rt or "", f"{analytic:.3f}", f"{counted:.3f}",
                      f"{measured:.3f}" + (" (noisy)" if any(m.get("noisy") for m in ms) else ""),
                      f"{lo:.2f}-{hi:.2f}" if n > 1 else "")
    console.print(table)


def _rebuild_report(out: str, warn) -> None:
    from edgecnn.console import err_console
    from edgecnn.report import build_report

    try:
        res = build_report(profiles_dir=out, out="reports/index.html")
    except Exception as exc:  # the measurements are saved; a report problem must not hide them
        warn(f"report not rebuilt: {type(exc).__name__}: {exc}")
        return
    err_console.print(f"report: {res.path} ({res.n_records} records)", highlight=False)
