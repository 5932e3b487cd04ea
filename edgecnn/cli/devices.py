"""`edgecnn devices`: list device definitions, and probe one with `--check NAME`."""

from __future__ import annotations

from typing import Any, Optional

import typer


def _destination(spec: Any) -> str:
    conn = spec.connection
    t = spec.transport
    if t == "ssh":
        who = f"{conn.get('user')}@" if conn.get("user") else ""
        port = f":{conn.get('port')}" if conn.get("port") not in (None, "", 22) else ""
        return f"{who}{conn.get('host', '')}{port}"
    if t == "adb":
        return conn.get("serial") or "(only device)"
    return "-"


_SHORT = {"onnxruntime": "ort", "tensorrt": "trt"}


def quick_reachable(spec: Any, timeout_s: float) -> tuple[bool, str | None]:
    """(reachable, error): one short connection attempt, no retries."""
    from edgecnn.remote.transports import TransportError, make_transport

    if spec.transport == "local":
        return True, None
    try:
        t = make_transport(spec, connect_timeout_s=timeout_s, retries=0)
        t.run("true", timeout_s=timeout_s + 5)
        return True, None
    except TransportError as exc:
        return False, str(exc)


def _use_devices_dir(devices_dir: Optional[str]) -> None:
    """Search ``devices_dir`` first (spec.py reads ``$EDGECNN_DEVICES``)."""
    if devices_dir:
        import os
        from pathlib import Path

        from edgecnn.errors import InvalidOptionError

        if not Path(devices_dir).is_dir():
            raise InvalidOptionError(f"--devices-dir {devices_dir!r} is not a folder")
        old = os.environ.get("EDGECNN_DEVICES", "")
        os.environ["EDGECNN_DEVICES"] = os.pathsep.join([str(Path(devices_dir).resolve())] + ([old] if old else []))


def register(app: typer.Typer) -> None:
    @app.command("devices")
    def devices_cmd(
        pattern: Optional[str] = typer.Argument(None, help="Wildcard filter on device names, e.g. 'jetson*'."),
        check: Optional[str] = typer.Option(None, "--check", metavar="NAME",
                                            help="Probe one device: reachability, Python, runtimes, clock state."),
        probe_: bool = typer.Option(True, "--probe/--no-probe", help="Try to reach each listed device."),
        timeout: float = typer.Option(3.0, "--timeout", help="Seconds to wait for each device when probing."),
        devices_dir: Optional[str] = typer.Option(None, "--devices-dir", envvar="EDGECNN_DEVICES_DIR",
                                                  help="Extra folder of device TOML files (searched first)."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List devices (devices/*.toml) with transport, runtimes, peak figures and reachability."""
        _use_devices_dir(devices_dir)
        if check:
            _check(check, timeout, json_out)
            return
        _list(pattern, probe_, timeout, json_out)


def _list(pattern: Optional[str], probe_: bool, timeout: float, json_out: bool) -> None:
    import fnmatch
    from concurrent.futures import ThreadPoolExecutor

    from rich.table import Table

    from edgecnn.console import console, print_json, warn
    from edgecnn.devices.spec import list_devices, load_device
    from edgecnn.errors import EdgeCNNError

    names = list_devices()
    if pattern:
        pats = [p.strip() for p in pattern.split(",") if p.strip()]
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in pats)]
        if not names:
            raise EdgeCNNError(f"no device matches {pattern!r} (see `edgecnn devices`)")
    specs, broken = [], []
    for n in names:
        try:
            specs.append(load_device(n))
        except EdgeCNNError as exc:
            broken.append(str(exc))
    reach: dict[str, tuple[bool, str | None]] = {}
    if probe_ and specs:
        with ThreadPoolExecutor(max_workers=min(8, len(specs))) as pool:
            for spec, res in zip(specs, pool.map(lambda s: quick_reachable(s, timeout), specs)):
                reach[spec.name] = res
    rows = []
    for s in specs:
        ok, err = reach.get(s.name, (True, None) if s.transport == "local" else (None, None))
        rows.append({"name": s.name, "transport": s.transport, "destination": _destination(s),
                     "runtimes": list(s.runtimes),
                     "units": {u: {"gmacs_per_s": dict(cu.peak_gmacs_per_s),
                                   "memory_bandwidth_gb_per_s": cu.memory_bandwidth_gb_per_s,
                                   "kind": dict(cu.kind)} for u, cu in s.units.items()},
                     "reachable": ok, "error": err, "path": s.path})
    if json_out:
        print_json(rows)
    else:
        table = Table(title=f"edgecnn devices ({len(rows)})",
                      caption="one row per compute unit; fp32/fp16/int8: peak GMAC/s; GB/s: memory bandwidth; "
                              "up: reachable now; ort = onnxruntime, trt = tensorrt")
        for col, just in (("name", "left"), ("via", "left"), ("host / serial", "left"), ("runtimes", "left"),
                          ("unit", "left"), ("fp32", "right"), ("fp16", "right"), ("int8", "right"),
                          ("GB/s", "right"), ("up", "center")):
            table.add_column(col, justify=just,
                             no_wrap=col in ("name", "via", "unit", "up", "fp32", "fp16", "int8", "GB/s"))
        fmt = lambda v: "-" if v is None else f"{v:,.0f}"  # noqa: E731
        for r in rows:
            reach_txt = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "—"}[r["reachable"]]
            units = list(r["units"].items()) or [("-", {"gmacs_per_s": {}, "memory_bandwidth_gb_per_s": None})]
            for i, (unit, fig) in enumerate(units):
                pk = fig["gmacs_per_s"]
                head = (r["name"], r["transport"], r["destination"],
                        ",".join(_SHORT.get(x, x) for x in r["runtimes"])) if i == 0 else ("", "", "", "")
                table.add_row(*head, unit, fmt(pk.get("fp32")), fmt(pk.get("fp16")), fmt(pk.get("int8")),
                              fmt(fig["memory_bandwidth_gb_per_s"]), reach_txt if i == 0 else "")
        console.print(table)
        for r in rows:
            if r["reachable"] is False:
                console.print(f"  {r['name']}: {r['error']}", style="dim", markup=False, highlight=False)
        console.print("peak figures: vendor specs from each TOML's sources (local: estimated/measured); "
                      "`edgecnn devices --check NAME` probes Python, runtimes and clocks.")
    for b in broken:
        warn(b)


def _check(name: str, timeout: float, json_out: bool) -> None:
    from rich.table import Table

    from edgecnn.console import console, print_json, warn
    from edgecnn.remote.profile import RemoteError, available_runtimes, probe
    from edgecnn.devices.spec import load_device

    spec = load_device(name)
    res = probe(spec, timeout_s=max(timeout, 5.0))
    listed = available_runtimes(spec)
    missing = [rt for rt in listed if rt in res.runtimes and res.runtimes[rt] is None]
    # nothing the TOML lists runs there: the check fails (exit 2), as profiling would
    none_usable = res.reachable and bool(listed) and not any(res.runtimes.get(rt) for rt in listed)
    none_msg = (f"device {spec.name!r} has none of the runtimes its TOML lists ({', '.join(listed)}); "
                f"nothing could be measured there")
    if json_out:  # the JSON on stdout, a failed check's error line on stderr (exit 2)
        print_json({**res.to_dict(), "listed_runtimes": listed, "missing_runtimes": missing})
        if not res.reachable or res.error or none_usable:
            raise RemoteError(res.error or (none_msg if none_usable else f"device {spec.name!r} is unreachable"))
        return
    if not res.reachable:
        raise RemoteError(res.error or f"device {spec.name!r} is unreachable")
    console.print(f"[bold]{spec.name}[/bold]  {spec.description}", highlight=False)
    console.print(f"reachable: [green]yes[/green] via {res.transport} ({_destination(spec)})", highlight=False)
    env = res.env
    if env:
        console.print("device: " + ", ".join(f"{k}={env[k]}" for k in ("host", "board", "model", "android", "cpu",
                                                                       "cpu_count", "machine", "abi")
                                              if env.get(k)), markup=False, highlight=False)
    if res.python:
        console.print(f"python: {res.python} ({env.get('python_executable', '')}), numpy {env.get('numpy')}",
                      markup=False, highlight=False)
    table = Table(title="runtimes")
    for col in ("runtime", "listed in TOML", "found on device", "note"):
        table.add_column(col)
    for rt in sorted(set(res.runtimes) | set(listed)):
        found = res.runtimes.get(rt)
        note = res.runtime_errors.get(rt, "") if found is None else ""
        if rt == "tensorrt" and res.extra.get("trtexec"):
            note = f"trtexec: {res.extra['trtexec']}"
        table.add_row(rt, "yes" if rt in listed else "no", found or "[red]missing[/red]" if rt in res.runtimes else "—",
                      note)
    if res.runtimes:  # empty when the device's Python could not run the probe (the error says why)
        console.print(table)
    st = res.state
    if st.get("cpu_governors"):
        govs = sorted(set(st["cpu_governors"].values()))
        console.print(f"CPU governor: {', '.join(govs)} ({len(st['cpu_governors'])} CPUs)", highlight=False)
    if st.get("nvpmodel"):
        console.print(f"Jetson power mode: {st['nvpmodel'].get('mode', st['nvpmodel'].get('error'))}",
                      markup=False, highlight=False)
    console.print(f"clocks fixed: {({True: 'yes', False: 'no', None: 'unknown'})[st.get('clocks_fixed')]}")
    for w in st.get("warnings", []):
        warn(w)
    for rt in missing:
        warn(f"{spec.name} lists runtime {rt!r} but it is missing there: {res.runtime_errors.get(rt, '')}")
    if res.error:
        raise RemoteError(res.error)
    if none_usable:
        raise RemoteError(none_msg)
