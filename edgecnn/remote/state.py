"""Device state that changes timings: CPU governors, Jetson power mode and clocks.

Read over any transport with plain shell (no Python needed, so it works on
an Android phone too), recorded in each record's ``env["device_state"]``:

- ``cpu_governors``: ``{"cpu0": "performance", ...}`` from
  ``/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor``, with
  ``cpu_cur_freq_khz`` beside it;
- ``nvpmodel``: the Jetson power mode (``nvpmodel -q``: "NV Power Mode: MAXN", id);
- ``jetson_clocks``: ``jetson_clocks --show`` output (needs root; when it
  cannot be read the reason is kept instead);
- ``clocks_fixed``: True when every governor is ``performance`` (or
  jetson_clocks shows MinFreq == MaxFreq == CurrentFreq on every CPU and the
  GPU, which is what ``sudo jetson_clocks`` sets), False
  when some is not, None when nothing could be read;
- ``warnings``: one line per problem, e.g. clocks not fixed.
"""

from __future__ import annotations

import re
from typing import Any

MARK = "@@edgecnn-state"

STATE_SCRIPT = f"""
for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor; do
  [ -r "$f" ] || continue
  c=${{f#/sys/devices/system/cpu/}}; c=${{c%%/*}}
  echo "{MARK} governor $c $(cat "$f" 2>/dev/null) $(cat /sys/devices/system/cpu/$c/cpufreq/scaling_cur_freq 2>/dev/null)"
done
if command -v nvpmodel >/dev/null 2>&1; then
  echo "{MARK} begin nvpmodel"; nvpmodel -q 2>&1; echo "{MARK} end nvpmodel"
fi
if command -v jetson_clocks >/dev/null 2>&1; then
  echo "{MARK} begin jetson_clocks"
  if [ "$(id -u)" = 0 ]; then jetson_clocks --show 2>&1; else sudo -n jetson_clocks --show 2>&1; fi
  echo "{MARK} end jetson_clocks"
fi
true
"""


def parse_state(text: str) -> dict[str, Any]:
    """Parse the output of ``STATE_SCRIPT`` into the dict described above."""
    governors: dict[str, str] = {}
    freqs: dict[str, int] = {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith(MARK):
            parts = line[len(MARK):].split()
            if parts[:1] == ["governor"] and len(parts) >= 3:
                governors[parts[1]] = parts[2]
                if len(parts) >= 4 and parts[3].isdigit():
                    freqs[parts[1]] = int(parts[3])
            elif parts[:1] == ["begin"] and len(parts) > 1:
                current = parts[1]
                sections[current] = []
            elif parts[:1] == ["end"]:
                current = None
            continue
        if current is not None:
            sections[current].append(line)
    state: dict[str, Any] = {}
    if governors:
        state["cpu_governors"] = dict(sorted(governors.items(), key=lambda kv: _cpu_index(kv[0])))
    if freqs:
        state["cpu_cur_freq_khz"] = dict(sorted(freqs.items(), key=lambda kv: _cpu_index(kv[0])))
    if "nvpmodel" in sections:
        state["nvpmodel"] = parse_nvpmodel("\n".join(sections["nvpmodel"]))
    if "jetson_clocks" in sections:
        state["jetson_clocks"] = parse_jetson_clocks("\n".join(sections["jetson_clocks"]))
    state["clocks_fixed"] = clocks_fixed(state)
    state["warnings"] = state_warnings(state)
    return state


def _cpu_index(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else 0


def parse_nvpmodel(text: str) -> dict[str, Any]:
    """``nvpmodel -q`` prints ``NV Power Mode: MAXN`` then the mode id."""
    out: dict[str, Any] = {"raw": text.strip()[-500:]}
    m = re.search(r"NV Power Mode:\s*(.+)", text)
    if m:
        out["mode"] = m.group(1).strip()
    ids = [ln.strip() for ln in text.splitlines() if ln.strip().isdigit()]
    if ids:
        out["mode_id"] = int(ids[-1])
    if "mode" not in out:
        out["error"] = text.strip().splitlines()[-1] if text.strip() else "no output"
    return out


_CPU_LINE = re.compile(r"^cpu(\d+):.*?MinFreq=(\d+)\s+MaxFreq=(\d+)\s+CurrentFreq=(\d+)", re.I)


def parse_jetson_clocks(text: str) -> dict[str, Any]:
    """``jetson_clocks --show`` lines such as
    ``cpu0: Online=1 Governor=schedutil MinFreq=729600 MaxFreq=1510400 CurrentFreq=1510400 IdleStates: ...``
    and ``GPU MinFreq=306000000 MaxFreq=624750000 CurrentFreq=624750000``."""
    out: dict[str, Any] = {"raw": text.strip()[-2000:]}
    cpus = {}
    for line in text.splitlines():
        line = line.strip()
        m = _CPU_LINE.match(line)
        if m:
            gov = re.search(r"Governor=(\S+)", line)
            cpus[f"cpu{m.group(1)}"] = {"governor": gov.group(1) if gov else None, "min_khz": int(m.group(2)),
                                        "max_khz": int(m.group(3)), "cur_khz": int(m.group(4))}
        elif line.upper().startswith(("GPU ", "EMC ")):
            f = dict(re.findall(r"(\w+Freq)=(\d+)", line))
            if f:
                out[line.split()[0].lower()] = {k: int(v) for k, v in f.items()}
        elif line.startswith("NV Power Mode:"):
            out["power_mode"] = line.split(":", 1)[1].strip()
    if cpus:
        out["cpus"] = cpus
    elif text.strip():
        out["error"] = text.strip().splitlines()[-1]
    return out


def clocks_fixed(state: dict[str, Any]) -> bool | None:
    jc = state.get("jetson_clocks") or {}
    cpus = jc.get("cpus") or {}
    if cpus:
        gpu = jc.get("gpu") or {}
        gpu_fixed = (not gpu) or gpu.get("MinFreq") == gpu.get("MaxFreq") == gpu.get("CurrentFreq")
        return gpu_fixed and all(c["min_khz"] == c["max_khz"] == c["cur_khz"] for c in cpus.values())
    govs = state.get("cpu_governors") or {}
    if govs:
        return all(g == "performance" for g in govs.values())
    return None


def state_warnings(state: dict[str, Any]) -> list[str]:
    warnings = []
    fixed = state.get("clocks_fixed")
    govs = state.get("cpu_governors") or {}
    if fixed is False:
        other = sorted({g for g in govs.values() if g != "performance"})
        how = ("run `sudo jetson_clocks`" if "jetson_clocks" in state or "nvpmodel" in state else
               "set the governor to performance (`cpupower frequency-set -g performance`)")
        warnings.append(f"CPU clocks are not fixed (governor {', '.join(other) or 'varies'}); "
                        f"timings may drift: {how}")
    elif fixed is None:
        warnings.append("could not read the CPU governor or clocks; timings may drift with frequency scaling")
    jc = state.get("jetson_clocks") or {}
    if jc.get("error"):
        warnings.append(f"jetson_clocks --show could not be read: {jc['error']}")
    return warnings


def read_state(transport, timeout_s: float = 30.0) -> dict[str, Any]:
    """Run ``STATE_SCRIPT`` over a transport and parse it; never raises for a
    command failure (the state is then empty with a warning), only for
    connection errors."""
    res = transport.run(STATE_SCRIPT, timeout_s=timeout_s)
    return parse_state(res.stdout)
