"""Devices as data: ``devices/*.toml`` parsed into ``DeviceSpec``.

Name lookup (``load_device``): the exact file name, then an alias a file
declares (``aliases = ["jetson"]``), then a unique prefix
(``jetson-agx`` -> ``jetson-agx-orin``); an ambiguous prefix lists the
candidates and an unknown name gets "did you mean". Folders searched: those in
``$EDGECNN_DEVICES`` (``:``-separated, first wins), then the checkout's
``devices/``.

Peaks are per compute unit (``[peak.cpu]``, ``[peak.gpu]``, ``[peak.npu]``),
each figure ``{ value = ..., kind = "vendor" | "derived", how = "..." }``: a
datasheet number, or one computed from cores, clocks and widths with the
arithmetic written in ``how``. A runtime runs on one unit
(``DeviceSpec.unit_of``: the file's ``[runtimes.units]``, else the runtime
table in ``edgecnn.runtime``), and predictions use that unit's figures.

``local`` is this machine: ``[peak.cpu] detect = true`` fills its CPU unit
when loaded (``detect_local``): compute peaks *derived* from CPU flags and
clock, memory bandwidth *measured* (cached).
"""

from __future__ import annotations

import json
import os
import platform
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from edgecnn.errors import CorruptFileError, InvalidOptionError
from edgecnn.registry import Registry, UnknownNameError

PRECISIONS = ("fp32", "fp16", "int8")
TRANSPORTS = ("local", "ssh", "adb")
UNITS = ("cpu", "gpu", "npu")
KINDS = ("vendor", "derived", "measured")  # datasheet number | computed from cores x clock x width | measured here
REPO_DEVICES = Path(__file__).resolve().parents[2] / "devices"


@dataclass
class ComputeUnit:
    """One compute unit of a device (its CPU, GPU or NPU): peak MAC rates per
    precision in GMAC/s (1e9 multiply-accumulates per second) and memory
    bandwidth in GB/s, each figure with its kind (``vendor``: a datasheet
    number; ``derived``: computed from cores, clocks and widths, the arithmetic
    in ``how``; ``measured``: measured on this machine)."""

    name: str
    peak_gmacs_per_s: dict[str, float] = field(default_factory=dict)
    memory_bandwidth_gb_per_s: Optional[float] = None
    kind: dict[str, str] = field(default_factory=dict)  # "fp32" / "memory_bandwidth" -> vendor|derived|measured
    how: dict[str, str] = field(default_factory=dict)  # the arithmetic or datasheet line behind each figure
    sources: list[str] = field(default_factory=list)

    def peak(self, precision: str = "fp32") -> tuple[float, str]:
        """(GMAC/s, precision actually used): falls back to fp16 then fp32 when a
        precision has no figure (e.g. int8 on a Maxwell Jetson)."""
        for p in (precision, "fp16", "fp32"):
            if self.peak_gmacs_per_s.get(p):
                return float(self.peak_gmacs_per_s[p]), p
        raise InvalidOptionError(f"compute unit {self.name!r} has no peak compute figure")

    def to_dict(self) -> dict[str, Any]:
        """The figures as records carry them (``device_peaks``)."""
        return {"unit": self.name, "gmacs_per_s": dict(self.peak_gmacs_per_s),
                "memory_bandwidth_gb_per_s": self.memory_bandwidth_gb_per_s, "kind": dict(self.kind),
                "how": dict(self.how), "sources": list(self.sources)}


@dataclass
class DeviceSpec:
    """One device: how to reach it, its runtimes, and its compute units."""

    name: str
    description: str = ""
    transport: str = "local"
    connection: dict[str, Any] = field(default_factory=dict)
    runtimes: list[str] = field(default_factory=list)
    units: dict[str, ComputeUnit] = field(default_factory=dict)
    runtime_units: dict[str, str] = field(default_factory=dict)  # [runtimes.units] overrides: runtime -> unit
    aliases: list[str] = field(default_factory=list)
    detected: dict[str, Any] = field(default_factory=dict)  # local only: cpu, cores, flags, measured figures
    path: Optional[str] = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.transport == "local"

    @property
    def sources(self) -> list[str]:
        return [src for u in self.units.values() for src in u.sources]

    def unit(self, name: str) -> ComputeUnit:
        """The compute unit ``name`` (cpu | gpu | npu); one line when the file has none."""
        if name not in self.units:
            have = ", ".join(self.units) or "none"
            raise InvalidOptionError(f"device {self.name!r} has no [peak.{name}] figures in {self.path} "
                                     f"(it has: {have}), so latency on its {name} cannot be predicted")
        return self.units[name]

    def unit_of(self, runtime: str, accel: str = "cpu") -> str:
        """The compute unit ``runtime`` runs on here: the file's [runtimes.units]
        entry, else the runtime table's rule (edgecnn.runtime.compute_unit)."""
        if runtime in self.runtime_units:
            return self.runtime_units[runtime]
        from edgecnn.runtime import compute_unit

        return compute_unit(runtime, accel)

    def peak(self, precision: str = "fp32", unit: str = "cpu") -> tuple[float, str]:
        return self.unit(unit).peak(precision)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "transport": self.transport,
                "connection": dict(self.connection), "runtimes": list(self.runtimes),
                "runtime_units": dict(self.runtime_units),
                "units": {k: u.to_dict() for k, u in self.units.items()}, "aliases": list(self.aliases),
                "detected": dict(self.detected), "path": self.path}


# ---------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------
def _figure(value: Any, where: str, bad) -> tuple[float, str, str]:
    """``{ value = 72.0, kind = "derived", how = "..." }`` -> (value, kind, how)."""
    if not isinstance(value, dict):
        raise bad(f"{where} must be a table {{ value = ..., kind = \"vendor\" | \"derived\", how = \"...\" }}, "
                  f"got {value!r}")
    v, kind, how = value.get("value"), value.get("kind"), value.get("how", "")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        raise bad(f"{where}.value must be a positive number, got {v!r}")
    if kind not in KINDS:
        raise bad(f"{where}.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "derived" and not how:
        raise bad(f"{where} is derived: write the arithmetic in its `how`")
    return float(v), str(kind), str(how)


def parse_unit(name: str, table: Any, where: str, bad) -> ComputeUnit:
    if not isinstance(table, dict):
        raise bad(f"[peak.{name}] must be a table")
    unit = ComputeUnit(name=name, sources=[str(s) for s in table.get("sources", [])])
    for p in PRECISIONS:
        key = f"{p}_gmacs_per_s"
        if key in table:
            unit.peak_gmacs_per_s[p], unit.kind[p], unit.how[p] = _figure(table[key], f"{where} peak.{name}.{key}", bad)
    if "memory_bandwidth_gb_per_s" in table:
        bw, unit.kind["memory_bandwidth"], unit.how["memory_bandwidth"] = _figure(
            table["memory_bandwidth_gb_per_s"], f"{where} peak.{name}.memory_bandwidth_gb_per_s", bad)
        unit.memory_bandwidth_gb_per_s = bw
    unknown = set(table) - {f"{p}_gmacs_per_s" for p in PRECISIONS} - {"memory_bandwidth_gb_per_s", "sources",
                                                                       "detect"}
    if unknown:
        raise bad(f"[peak.{name}] has unknown key(s) {sorted(unknown)}")
    return unit


def parse_device(data: dict[str, Any], path: Optional[str] = None, detect: bool = True) -> DeviceSpec:
    """A DeviceSpec from the TOML schema (as a dict); raises CorruptFileError
    naming the file and field on a bad value. ``detect=False`` leaves a
    ``detect = true`` unit as the file gives it (nothing measured here)."""
    where = path or "device spec"

    def bad(msg: str) -> CorruptFileError:
        return CorruptFileError(f"{where}: {msg}")

    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise bad("missing `name`")
    conn = data.get("connection", {})
    if not isinstance(conn, dict):
        raise bad("[connection] must be a table")
    transport = conn.get("transport", "local")
    if transport not in TRANSPORTS:
        raise bad(f"connection.transport {transport!r} is not one of {', '.join(TRANSPORTS)}")
    rt_table = data.get("runtimes", {})
    runtimes = rt_table.get("available", [])
    if not isinstance(runtimes, list) or not all(isinstance(r, str) for r in runtimes):
        raise bad("runtimes.available must be a list of names")
    runtime_units = rt_table.get("units", {})
    if not isinstance(runtime_units, dict) or not all(v in UNITS for v in runtime_units.values()):
        raise bad(f"runtimes.units maps runtimes to one of {', '.join(UNITS)}")
    peak_tbl = data.get("peak", {})
    if not isinstance(peak_tbl, dict):
        raise bad("[peak] must be a table")
    flat = sorted(k for k in peak_tbl if k not in UNITS)
    if flat:
        raise bad(f"[peak] holds {', '.join(flat)} directly; figures belong to a compute unit: [peak.cpu], "
                  f"[peak.gpu] or [peak.npu], each figure {{ value = ..., kind = \"vendor\" | \"derived\", "
                  f"how = \"...\" }} (see docs/profile.md)")
    units = {u: parse_unit(u, peak_tbl[u], where, bad) for u in UNITS if u in peak_tbl}
    aliases = data.get("aliases", [])
    spec = DeviceSpec(name=name, description=str(data.get("description", "")), transport=transport,
                      connection=dict(conn), runtimes=list(runtimes), units=units,
                      runtime_units={str(k): str(v) for k, v in runtime_units.items()}, aliases=list(aliases),
                      path=path, raw=dict(data))
    if detect and isinstance(peak_tbl.get("cpu"), dict) and peak_tbl["cpu"].get("detect"):
        fill_detected(spec)
    return spec


def read_device_file(path: Path, detect: bool = True) -> DeviceSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CorruptFileError(f"cannot read device file {path}: {exc}") from exc
    spec = parse_device(data, str(path), detect=detect)
    if spec.name != path.stem:
        raise CorruptFileError(f"{path}: name {spec.name!r} differs from the file name {path.stem!r}")
    return spec


# ---------------------------------------------------------------------------
# lookup: the one search path every reader uses
# ---------------------------------------------------------------------------
def device_dirs(extra: Optional[list[Path]] = None) -> list[Path]:
    """Where device files are looked up, first wins: ``extra`` (a command's
    ``--devices-dir``), the folders of ``$EDGECNN_DEVICES``, the checkout's ``devices/``."""
    dirs = [Path(p) for p in os.environ.get("EDGECNN_DEVICES", "").split(os.pathsep) if p]
    return list(extra or []) + dirs + [REPO_DEVICES]


def device_files(extra: Optional[list[Path]] = None) -> dict[str, Path]:
    """name -> TOML path; earlier folders win."""
    out: dict[str, Path] = {}
    for d in device_dirs(extra):
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                out.setdefault(f.stem, f)
    return out


def _registry() -> tuple[Registry[Path], dict[str, str]]:
    reg: Registry[Path] = Registry("device")
    for name, path in device_files().items():
        reg.add(name, path)
    aliases: dict[str, str] = {}
    for name, path in reg.items():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue  # reported when that device is loaded
        for a in data.get("aliases", []) or []:
            aliases.setdefault(str(a), name)
    return reg, aliases


def resolve_device_name(name: str) -> str:
    """Exact name, then alias, then unique prefix; else a one-line error."""
    reg, aliases = _registry()
    if name in reg:
        return name
    if name in aliases:
        return aliases[name]
    hits = [n for n in reg if n.startswith(name)] if name else []
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise UnknownNameError(f"device {name!r} is ambiguous: {', '.join(hits)}; give the full name")
    raise UnknownNameError(reg.unknown_message(name))


def list_devices() -> list[str]:
    return list(device_files())


def load_device(name: str) -> DeviceSpec:
    """The DeviceSpec for ``name`` (exact, alias or unique prefix)."""
    return read_device_file(device_files()[resolve_device_name(name)])


# ---------------------------------------------------------------------------
# this machine
# ---------------------------------------------------------------------------
def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                info.setdefault(k.strip(), v.strip())
    except OSError:
        pass
    return info


def _clock_ghz(info: dict[str, str]) -> Optional[float]:
    try:
        khz = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text().strip()
        return int(khz) / 1e6
    except (OSError, ValueError):
        pass
    try:
        return float(info.get("cpu MHz", "")) / 1e3
    except ValueError:
        return None


def detect_local() -> dict[str, Any]:
    """CPU name, usable cores, clock, SIMD flags and *estimated* peak MAC rates.

    Estimate per core per cycle: FP32 MACs = SIMD lanes x FMA units (AVX-512:
    16 x 2, AVX2+FMA: 8 x 2, NEON: 4 x 2, else 4); FP16 = FP32 unless the CPU
    computes in half precision (AVX512-FP16, ARM fphp/asimdhp: x2); INT8 = x4
    with VNNI / ARM dot product, else x2. Virtual CPUs are counted as cores,
    which overstates the peak on SMT siblings.
    """
    from edgecnn.records import cpu_name

    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    ghz = _clock_ghz(info)
    if "avx512f" in flags:
        simd, lanes, fma = "avx512", 16, 2
    elif "avx2" in flags and "fma" in flags:
        simd, lanes, fma = "avx2+fma", 8, 2
    elif "asimd" in flags or platform.machine() in ("aarch64", "arm64"):
        simd, lanes, fma = "neon", 4, 2
    else:
        simd, lanes, fma = "scalar/sse", 4, 1
    fp32_per_cycle = lanes * fma
    fp16_mult = 2 if flags & {"avx512_fp16", "fphp", "asimdhp"} else 1
    int8_mult = 4 if flags & {"avx512_vnni", "avx_vnni", "asimddp"} else 2
    out: dict[str, Any] = {"cpu": cpu_name(), "cores": cores, "clock_ghz": ghz, "simd": simd,
                           "fp32_macs_per_cycle_per_core": fp32_per_cycle}
    if ghz:
        fp32 = cores * ghz * fp32_per_cycle
        out["estimated_gmacs_per_s"] = {"fp32": fp32, "fp16": fp32 * fp16_mult, "int8": fp32 * int8_mult}
        base = f"{cores} cores x {ghz:.2f} GHz x {lanes} {simd} fp32 lanes x {fma} FMA units"
        out["how"] = {"fp32": base, "fp16": base + (f" x {fp16_mult} (half-precision arithmetic)" if fp16_mult > 1
                                                    else " (no half-precision arithmetic: as fp32)"),
                      "int8": base + f" x {int8_mult} ({'VNNI / dot product' if int8_mult == 4 else 'no VNNI'})"}
    return out


def _cache_path() -> Path:
    return Path(os.environ.get("EDGECNN_CACHE", Path.home() / ".cache" / "edgecnn")) / "local-peak.json"


def measure_local(force: bool = False) -> dict[str, float]:
    """Measured here (cached per CPU and core count): ``sgemm_gmacs_per_s``
    (numpy float32 1024x1024 matmul, best of 5) and
    ``memory_bandwidth_gb_per_s`` (numpy copy of 64 MiB, read + write bytes,
    best of 5). A cache hit imports nothing (numpy's version is read from its
    distribution): `edgecnn devices` and the option checks stay quick."""
    from importlib.metadata import PackageNotFoundError, version

    det = detect_local()
    try:
        numpy_version = version("numpy")
    except PackageNotFoundError:  # numpy from elsewhere (a source tree): ask it
        import numpy

        numpy_version = numpy.__version__
    key = f"{det['cpu']}|{det['cores']}|{numpy_version}"
    path = _cache_path()
    if not force and path.exists():
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                return cached["figures"]
        except (OSError, ValueError, KeyError):
            pass
    import numpy as np

    n = 1024
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.copy()
    best = float("inf")
    a @ b
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    sgemm = n ** 3 / best / 1e9
    src = np.ones(16 * 1024 * 1024, dtype=np.float32)  # 64 MiB
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    bw = 2 * src.nbytes / best / 1e9
    figures = {"sgemm_gmacs_per_s": sgemm, "memory_bandwidth_gb_per_s": bw}
    try:
        from edgecnn.records import atomic_write_text

        atomic_write_text(path, json.dumps({"key": key, "figures": figures, "measured_at": time.time()}))
    except OSError:
        pass
    return figures


def fill_detected(spec: DeviceSpec) -> None:
    """Fill a ``[peak.cpu] detect = true`` unit from this machine; figures already
    in the file win. Peaks are ``derived`` (cores x clock x SIMD lanes x FMA
    units, the arithmetic in ``how``), the bandwidth ``measured``."""
    det = detect_local()
    measured = measure_local()
    det["measured"] = measured
    spec.detected = det
    if not spec.description or "detected" in spec.description:
        spec.description = f"{det['cpu']}, {det['cores']} cores available" + (
            f", {det['clock_ghz']:.2f} GHz, {det['simd']}" if det.get("clock_ghz") else "")
    cpu = spec.units.setdefault("cpu", ComputeUnit("cpu"))
    for p, v in det.get("estimated_gmacs_per_s", {}).items():
        if p not in cpu.peak_gmacs_per_s:
            cpu.peak_gmacs_per_s[p] = float(v)
            cpu.kind[p] = "derived"
            cpu.how[p] = det["how"][p]
    if "fp32" not in cpu.peak_gmacs_per_s:  # no clock known: the measured GEMM rate stands in
        cpu.peak_gmacs_per_s["fp32"] = measured["sgemm_gmacs_per_s"]
        cpu.kind["fp32"] = "measured"
        cpu.how["fp32"] = "numpy float32 1024x1024 matmul, best of 5 (no CPU clock readable)"
    if cpu.memory_bandwidth_gb_per_s is None:
        cpu.memory_bandwidth_gb_per_s = measured["memory_bandwidth_gb_per_s"]
        cpu.kind["memory_bandwidth"] = "measured"
        cpu.how["memory_bandwidth"] = "numpy copy of 64 MiB, read + write bytes, best of 5 (cached)"
    cpu.sources = cpu.sources or ["/proc/cpuinfo flags and clock, os.sched_getaffinity"]
