"""`edgecnn report`: build the offline HTML report from records."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        profiles: str = typer.Option("profiles", "--profiles", help="Folder of records (JSONL) to read."),
        out: Optional[str] = typer.Option(None, "--out", help="Where to write (atomically): default "
                                          "reports/index.html, reports/report.json, or the folder reports/csv/."),
        fmt: str = typer.Option("html", "--format", help="html (the page), json (every table and plotted series) "
                                "or csv (one file per table)."),
        device: Optional[str] = typer.Option(None, "--device",
                                             help="Keep only this device's latency and per-layer records."),
        devices_dir: Optional[str] = typer.Option(None, "--devices-dir",
                                                  help="Where <device>.toml peak figures live (default: devices/)."),
        open_page: bool = typer.Option(False, "--open", help="Open the page in a browser when done."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Build the offline HTML report from records (nothing is re-measured).

        One self-contained page: Pareto fronts, cost vs time with latency, memory and size, the separable
        check, per-layer rooflines, export quality, training curves and a searchable table of all records;
        or, with --format json|csv, the same tables and plotted series as data. Each line of a records file
        that is not a record is named (file:line) on stderr and the exit code is 1; a folder with no
        readable record at all is an error (exit 2).
        """
        from edgecnn.cli.quiet import third_party_log
        from edgecnn.console import print_json
        from edgecnn.report import build_report

        default_out = {"json": "reports/report.json", "csv": "reports/csv"}.get(fmt, "reports/index.html")
        with third_party_log("report"):  # the recommendation and roofline code may load chatty packages
            res = build_report(profiles, out or default_out, device=device, devices_dir=devices_dir, fmt=fmt)
        if json_out:
            print_json({"path": str(res.path), "n_records": res.n_records, "skipped": res.skipped,
                        "unreadable": res.unreadable, "build_s": round(res.build_s, 3),
                        "size_bytes": res.size_bytes})
        else:
            _print_result(res)
        if open_page and fmt == "html":
            import webbrowser

            webbrowser.open(res.path.resolve().as_uri())
        if res.unreadable:
            raise typer.Exit(1)  # the report is written, but some records could not be read


def _print_result(res) -> None:
    """Each unreadable line (file:line: why), up to 10 other skipped records, then what was written."""
    from edgecnn.console import console, err_console, warn

    for line in res.unreadable:  # plain text: a JSON error quotes the line's own brackets
        err_console.print(f"warning: unreadable record line {line}", markup=False, highlight=False, soft_wrap=True)
    others = [line for line in res.skipped if line not in res.unreadable]
    for line in others[:10]:
        warn(f"skipped {line}")
    if len(others) > 10:
        warn(f"... and {len(others) - 10} more skipped (all listed at the top of the page)")
    console.print(f"wrote {res.path} ({res.size_bytes / 1e6:.1f} MB) from {res.n_records} records "
                  f"in {res.build_s:.1f} s; {len(res.skipped)} skipped"
                  + (f", {len(res.unreadable)} of them unreadable lines (exit code 1)" if res.unreadable else ""),
                  highlight=False, soft_wrap=True)
