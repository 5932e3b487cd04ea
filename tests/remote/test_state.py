"""Device state parsing: CPU governors, nvpmodel, jetson_clocks --show.

Sample outputs follow the formats printed by JetPack's tools (as quoted in
jetson-stats' regex comments, rbonghi/jetson_stats jtop/core/jetson_clocks.py,
and public Jetson setup notes); no Jetson was available to record them."""

from __future__ import annotations

from edgecnn.remote.state import MARK, STATE_SCRIPT, parse_state, read_state
from edgecnn.remote.transports import LocalTransport

NVPMODEL = "NVPM WARN: fan mode is not set!\nNV Power Mode: MAXN\n0\n"
JC_DYNAMIC = """SOC family:tegra234  Machine:NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super
Online CPUs: 0-5
cpu0:  Online=1 Governor=schedutil MinFreq=729600 MaxFreq=1344000 CurrentFreq=729600 IdleStates: WFI=1 c7=1
cpu1:  Online=1 Governor=schedutil MinFreq=729600 MaxFreq=1344000 CurrentFreq=1190400 IdleStates: WFI=1 c7=1
GPU MinFreq=306000000 MaxFreq=1020000000 CurrentFreq=306000000
EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=3199000000 FreqOverride=0
FAN Dynamic Speed Control=nvfancontrol hwmon0_pwm1=0
NV Power Mode: MAXN_SUPER
"""
JC_LOCKED = """cpu0:  Online=1 Governor=schedutil MinFreq=1728000 MaxFreq=1728000 CurrentFreq=1728000 IdleStates: WFI=0 c7=0
cpu1:  Online=1 Governor=schedutil MinFreq=1728000 MaxFreq=1728000 CurrentFreq=1728000 IdleStates: WFI=0 c7=0
GPU MinFreq=1020000000 MaxFreq=1020000000 CurrentFreq=1020000000
EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=3199000000 FreqOverride=1
NV Power Mode: MAXN_SUPER
"""


def _wrap(governors: dict, nvp: str | None = None, jc: str | None = None) -> str:
    out = [f"{MARK} governor {c} {g} 1344000" for c, g in governors.items()]
    if nvp is not None:
        out += [f"{MARK} begin nvpmodel", nvp, f"{MARK} end nvpmodel"]
    if jc is not None:
        out += [f"{MARK} begin jetson_clocks", jc, f"{MARK} end jetson_clocks"]
    return "\n".join(out)


def test_jetson_not_locked_warns():
    st = parse_state(_wrap({"cpu0": "schedutil", "cpu1": "schedutil"}, NVPMODEL, JC_DYNAMIC))
    assert st["nvpmodel"]["mode"] == "MAXN" and st["nvpmodel"]["mode_id"] == 0
    jc = st["jetson_clocks"]
    assert jc["cpus"]["cpu1"] == {"governor": "schedutil", "min_khz": 729600, "max_khz": 1344000, "cur_khz": 1190400}
    assert jc["gpu"]["CurrentFreq"] == 306000000 and jc["power_mode"] == "MAXN_SUPER"
    assert st["clocks_fixed"] is False
    assert any("not fixed" in w and "jetson_clocks" in w for w in st["warnings"])


def test_jetson_locked_by_jetson_clocks_is_fixed_even_with_schedutil():
    st = parse_state(_wrap({"cpu0": "schedutil", "cpu1": "schedutil"}, NVPMODEL, JC_LOCKED))
    assert st["clocks_fixed"] is True and st["warnings"] == []


def test_jetson_clocks_needs_root():
    st = parse_state(_wrap({"cpu0": "performance"}, NVPMODEL, "sudo: a password is required"))
    assert st["clocks_fixed"] is True  # falls back to the governors
    assert any("jetson_clocks --show could not be read: sudo: a password is required" in w for w in st["warnings"])


def test_linux_governors():
    assert parse_state(_wrap({"cpu0": "performance", "cpu1": "performance"}))["clocks_fixed"] is True
    st = parse_state(_wrap({"cpu0": "performance", "cpu1": "ondemand"}))
    assert st["clocks_fixed"] is False and "ondemand" in st["warnings"][0]
    assert st["cpu_cur_freq_khz"] == {"cpu0": 1344000, "cpu1": 1344000}
    assert parse_state("")["clocks_fixed"] is None


def test_state_script_runs_in_a_posix_shell(tmp_path):
    st = read_state(LocalTransport(workdir=str(tmp_path)))
    assert "clocks_fixed" in st and isinstance(st["warnings"], list)
    assert "scaling_governor" in STATE_SCRIPT
