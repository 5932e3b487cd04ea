"""What `edgecnn runtimes` and `edgecnn formats` list, answered without
importing a runtime, an exporter, torch or numpy.

The runtime and format tables (``RUNNERS``, ``EXPORTERS``, the parity
``TOLERANCES``) register when ``edgecnn.runtime`` and ``edgecnn.export`` load,
which imports numpy and every runner and exporter module. Their rows are kept
here as generated data (``catalog_table.py``; ``python -m edgecnn.cli.catalog``
regenerates it, ``tests/test_cli_catalog.py`` fails when it differs), and
whether a runtime is installed is found with ``importlib.util.find_spec``
and ``importlib.metadata``: nothing is imported. ``probe`` asks each runner
itself (it imports the runtime: seconds, and the runtime's own log lines).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from typing import Any, Optional

from edgecnn.cli.catalog_table import FORMATS, PRECISIONS, RUNTIMES, TOLERANCES
from edgecnn.registry import Registry

TABLE = Path(__file__).with_name("catalog_table.py")

# The Python modules each runtime's runner imports (the first one found is used) and the
# distributions that install them, for the version: edgecnn/runtime/*_runner.py.
RUNTIME_PACKAGES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "torch": (("torch", ("torch",)),),
    "onnxruntime": (("onnxruntime", ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino")),),
    "litert": (("ai_edge_litert", ("ai-edge-litert", "ai-edge-litert-nightly")),
               ("tflite_runtime", ("tflite-runtime",))),
    "tensorrt": (("tensorrt", ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt-lean")),),
    "openvino": (("openvino", ("openvino",)),),
    "executorch": (("executorch", ("executorch",)),),
    "ncnn": (("ncnn", ("ncnn",)),),
    "mnn": (("MNN", ("MNN", "mnn")),),
}


def runtime_rows() -> list[dict[str, Any]]:
    """runtime, format, precisions, per_layer, extra of every runtime, sorted by name."""
    if "edgecnn.runtime" in sys.modules:  # loaded already: the live table (runtimes registered through the API)
        return _live_runtimes()
    return [dict(r) for r in RUNTIMES]


def format_rows() -> list[dict[str, Any]]:
    """format, suffix, precisions, runtime, extra, options, description of every export format."""
    if "edgecnn.export" in sys.modules:
        return _live_formats()
    return [dict(f) for f in FORMATS]


def tolerances() -> dict[str, dict[str, float]]:
    return {k: dict(v) for k, v in TOLERANCES.items()}


def precisions() -> dict[str, str]:
    return dict(PRECISIONS)


def runtime_names() -> Registry:
    """The runtimes' names, for `--runtimes` checks with did-you-mean (no runner imported)."""
    names: Registry = Registry("runtime")
    for row in runtime_rows():
        names.add(row["runtime"], row["runtime"])
    return names


def format_names() -> Registry:
    """The export formats' names, for `--to` checks with did-you-mean (no exporter imported)."""
    names: Registry = Registry("format")
    for row in format_rows():
        names.add(row["format"], row["format"])
    return names


def check_precision(formats: list[str], precision: str) -> None:
    """One line, as ``ExportFormat.check`` words it, when ``precision`` is unknown or
    one of ``formats`` cannot build it: from the table, before any exporter loads."""
    from edgecnn.errors import InvalidOptionError

    known: Registry = Registry("precision")
    for name in precisions():
        known.add(name, name)
    if precision not in known:
        close = known.suggest(precision)
        hint = f"; did you mean: {', '.join(close)}?" if close else ""
        raise InvalidOptionError(f"unknown precision {precision!r}{hint} (choose one of {', '.join(known.list())}; "
                                 "`edgecnn formats` shows which format does which)")
    rows = {r["format"]: r for r in format_rows()}
    for name in formats:
        if precision not in rows[name]["precisions"]:
            others = [n for n, r in rows.items() if precision in r["precisions"]]
            hint = f"; {precision} is available with --to {', '.join(others)}" if others else ""
            raise InvalidOptionError(f"{name} export cannot do precision {precision!r} (it does "
                                     f"{', '.join(rows[name]['precisions'])}){hint}")


def check_format_options(formats: list[str], options: dict[str, Any]) -> None:
    """One line, as ``ExportFormat.check`` words it, when the one format asked for does not
    take an option given (not None); from the table. Several formats each take what they have."""
    from edgecnn.errors import InvalidOptionError

    if len(formats) != 1:
        return
    row = next(r for r in format_rows() if r["format"] == formats[0])
    unknown = sorted(k for k, v in options.items() if k not in row["options"] and v is not None)
    if unknown:
        raise InvalidOptionError(f"{row['format']} export does not take option(s) {unknown}; "
                                 f"it takes: {', '.join(sorted(row['options'])) or 'none'}")


def installed(runtime: str) -> tuple[Optional[str], Optional[str]]:
    """(version, None) when ``runtime``'s Python package is installed here ("?" when
    no distribution says its version), else (None, why not). Imports nothing."""
    packages = RUNTIME_PACKAGES.get(runtime, ())
    for module, dists in packages:
        if importlib.util.find_spec(module) is None:
            continue
        for dist in dists:
            try:
                return importlib.metadata.version(dist), None
            except importlib.metadata.PackageNotFoundError:
                continue
        return "?", None
    if not packages:
        return None, f"edgecnn does not know which package {runtime!r} needs (probe it with --probe)"
    extra = next((r["extra"] for r in runtime_rows() if r["runtime"] == runtime), None)
    how = f"`pip install 'edgecnn[{extra}]'`" if extra else f"`pip install {packages[0][1][0]}`"
    return None, f"{' or '.join(m for m, _ in packages)} is not installed; install it with {how}"


def probe(runtime: str) -> Optional[str]:
    """None when ``runtime``'s runner can work here, else why not: the runner's own
    check, which imports the runtime (seconds; its log lines go to the run's log)."""
    from edgecnn.runtime import RUNNERS

    return RUNNERS.get(runtime).unavailable_reason()


def runtime_status(deep: bool = False) -> list[dict[str, Any]]:
    """Every runtime's row with ``version`` (installed here, None when not),
    ``available`` and ``reason`` (why not); ``deep`` asks each installed runtime's
    runner too (``probe``), else ``available`` means installed."""
    rows = []
    for row in runtime_rows():
        version, reason = installed(row["runtime"])
        if deep and reason is None:
            reason = probe(row["runtime"])
        rows.append({**row, "version": version, "available": reason is None, "reason": reason, "probed": deep})
    return rows


def format_status() -> list[dict[str, Any]]:
    """Every export format's row with ``runs_here`` / ``why_not``: whether the
    runtime that checks its artifacts is installed here."""
    rows = []
    for row in format_rows():
        _, reason = installed(row["runtime"])
        rows.append({**row, "runs_here": reason is None, "why_not": reason})
    return rows


# ---------------------------------------------------------------------------
# the generator: python -m edgecnn.cli.catalog [--check]
# ---------------------------------------------------------------------------
def _live_runtimes() -> list[dict[str, Any]]:
    from edgecnn.profile.isolated import ISOLATED_FORMATS
    from edgecnn.runtime import RUNNERS, Runner

    return [{"runtime": name, "format": cls.format, "precisions": list(cls.precisions),
             "per_layer": cls.layer_times is not Runner.layer_times or name in ISOLATED_FORMATS,
             "extra": cls.extra or None} for name, cls in RUNNERS.items()]


def _live_formats() -> list[dict[str, Any]]:
    from edgecnn.export import EXPORTERS

    return [{"format": n, "suffix": f.suffix, "precisions": list(f.precisions), "runtime": f.runtime,
             "extra": f.extra, "options": dict(f.options), "description": f.description}
            for n, f in EXPORTERS.items()]


def table_source() -> str:
    """catalog_table.py as the registries say it should read."""
    from pprint import pformat

    from edgecnn.export import PRECISIONS as live_precisions
    from edgecnn.export import TOLERANCES as live_tolerances

    parts = [('RUNTIMES', _live_runtimes()), ('FORMATS', _live_formats()), ('TOLERANCES', dict(live_tolerances)),
             ('PRECISIONS', {n: d for n, d in live_precisions.items()})]
    body = "\n\n".join(f"{name} = {pformat(value, width=116, sort_dicts=False)}" for name, value in parts)
    return ('"""The runtime and export-format tables as data, for `edgecnn runtimes` and `edgecnn formats`.\n\n'
            "Generated from edgecnn.runtime.RUNNERS and edgecnn.export by `python -m edgecnn.cli.catalog`; do not\n"
            'edit (tests/test_cli_catalog.py regenerates it and fails on any difference).\n"""\n\n' + body + "\n")


def main(argv: list[str]) -> int:
    from edgecnn.generated import write_or_check

    text = table_source()
    return write_or_check(TABLE, text, argv, "python -m edgecnn.cli.catalog")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
