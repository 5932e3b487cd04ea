"""The report renders in a real browser: headless Chromium draws every chart.

Skipped, with the reason, only when no Chromium binary is installed
(`scripts/system-deps.sh` installs Debian's `chromium`).
"""

import pytest

from edgecnn.report import build_report
from edgecnn.report.screenshot import drawn_figures, dump_dom, find_chromium, image_stats, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="no chromium binary (apt-get install chromium; "
                                                       "scripts/system-deps.sh does it)"),
]

FIGURES = {"fig-pareto", "fig-cost-time", "fig-separable", "fig-layers", "fig-training", "fig-int8", "fig-int8-speed"}


@pytest.fixture(scope="module")
def page(tmp_path_factory, real_records):
    """The page of the records the real commands wrote (tests/report/conftest.py)."""
    root = tmp_path_factory.mktemp("browser")
    return build_report(real_records.profiles, root / "index.html", devices_dir=real_records.devices).path


def test_every_chart_draws_and_the_table_script_runs(page):
    dom = dump_dom(page)
    drawn = drawn_figures(dom)
    assert set(drawn) == FIGURES
    assert all(n >= 1 for n in drawn.values()), drawn  # plotly drew an svg.main-svg in each figure
    assert dom.count("js-plotly-plot") >= len(FIGURES)
    n_rows = dom.count('<tr id="rec-')
    assert f"{n_rows} of {n_rows} records" in dom  # the inline search/sort script ran


def test_screenshot_is_not_blank(page, tmp_path):
    png = screenshot(page, tmp_path / "shot.png", width=1400, height=2400)
    stats = image_stats(png)
    assert (stats["width"], stats["height"]) == (1400, 2400)
    assert stats["colors"] > 100 and stats["non_background_share"] > 0.05, stats
    assert stats["red_pixels"] > 0, stats  # the Pareto front (red) is on screen


def test_a_page_without_plotly_is_caught(page, tmp_path):
    """The check above can fail: strip the inlined plotly.js and nothing draws."""
    html = page.read_text(encoding="utf-8")
    head, rest = html.split("<script>", 1)
    broken = tmp_path / "broken.html"
    broken.write_text(head + "<script>" + rest.split("</script>", 1)[1], encoding="utf-8")
    drawn = drawn_figures(dump_dom(broken))
    assert drawn and not any(drawn.values())
