"""Render a report with headless Chromium: a PNG screenshot and the DOM after
its scripts ran. Used by the browser test and ``scripts/screenshot_report.sh``.

    python -m edgecnn.report.screenshot reports/index.html docs/report-screenshot.png

Chromium comes from Debian's ``chromium`` package (``scripts/system-deps.sh``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edgecnn.errors import EdgeCNNError, MissingDependencyError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary ($EDGECNN_CHROMIUM first), or None."""
    env = os.environ.get("EDGECNN_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(html: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise MissingDependencyError("chromium", "dev", "rendering the report (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="edgecnn-chromium-") as profile:
        cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}",
               "--virtual-time-budget=10000", *args, Path(html).resolve().as_uri()]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise EdgeCNNError(f"chromium did not finish rendering {html} within {timeout:.0f} s") from exc


def screenshot(html: str | os.PathLike, png: str | os.PathLike, width: int = 1400, height: int = 2400,
               timeout: float = 180) -> Path:
    """Write a ``width`` x ``height`` PNG of the page (after its scripts ran)."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    proc = _run(Path(html), [f"--screenshot={png}", f"--window-size={width},{height}"], timeout)
    if not png.exists() or png.stat().st_size == 0:
        raise EdgeCNNError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return png


def dump_dom(html: str | os.PathLike, width: int = 1400, height: int = 2400, timeout: float = 180) -> str:
    """The page's DOM serialised after its scripts ran (plotly's SVG included)."""
    proc = _run(Path(html), ["--dump-dom", f"--window-size={width},{height}"], timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise EdgeCNNError(f"chromium --dump-dom failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return proc.stdout


def drawn_figures(dom: str) -> dict[str, int]:
    """For each plotly figure div (``id="fig-..."``) in a dumped DOM, how many
    ``svg.main-svg`` elements plotly drew in it (0: the chart did not draw)."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<div[^>]*\bid="(fig-[\w-]+)"', dom)]
    out = {}
    for i, (pos, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(dom)
        out[name] = len(re.findall(r'<svg[^>]*class="main-svg"', dom[pos:end]))
    return out


def image_stats(png: str | os.PathLike) -> dict[str, float]:
    """Colour count and the share of pixels that are not the page background
    (a blank render has one or two colours)."""
    from PIL import Image

    with Image.open(png) as im:
        im = im.convert("RGB")
        small = im.resize((im.width // 4, im.height // 4))
        colors = small.getcolors(maxcolors=1 << 20) or []
        bg = max(colors)[1] if colors else (255, 255, 255)
        total = small.width * small.height
        non_bg = sum(n for n, c in colors if c != bg)
        red = sum(n for n, (r, g, b) in colors if r > 180 and g < 80 and b < 80)  # Pareto-front red
    return {"colors": len(colors), "non_background_share": non_bg / total, "red_pixels": red,
            "width": im.width, "height": im.height}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", help="report HTML file")
    ap.add_argument("png", help="screenshot to write")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=2400)
    ns = ap.parse_args(argv)
    try:
        png = screenshot(ns.html, ns.png, ns.width, ns.height)
        drawn = drawn_figures(dump_dom(ns.html, ns.width, ns.height))
    except EdgeCNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stats = image_stats(png)
    print(f"wrote {png} ({stats['width']}x{stats['height']}, {stats['colors']} colours); "
          f"charts drawn: {', '.join(f'{k}={v}' for k, v in drawn.items()) or 'none'}")
    return 0 if drawn and all(drawn.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
