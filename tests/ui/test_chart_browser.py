"""Custom charts (darkroom.plot.line ..., W&B's custom charts) drawn by the viewer in a real browser.

The run is logged with the embedded default; `darkroom ui` serves it and
Debian's Chromium draws it (the fixtures and helpers are test_browser.py's).
"""

from __future__ import annotations

import numpy as np
import pytest

import darkroom
from test_browser import browser, hex_rgb, open_run, page, screenshot  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory, embedded_in) -> dict:
    with embedded_in(tmp_path_factory.mktemp("charts")) as url:
        run = darkroom.init(project="charts")
        table = darkroom.Table(columns=["x", "y", "split"],
                               data=[[i, float(i * i), "train"] for i in range(5)] +
                                    [[i, float(10 - i), "val"] for i in range(5)])
        bars = darkroom.Table(columns=["label", "count"], data=[["cat", 3], ["dog", 7]])
        run.log({"curve": darkroom.plot.line(table, "x", "y", stroke="split", title="Curves"),
                 "counts": darkroom.plot.bar(bars, "label", "count", title="Counts"),
                 "spread": darkroom.plot.histogram(table, "y"),
                 "dots": darkroom.plot.scatter(table, "x", "y", title="Dots"),
                 "series": darkroom.plot.line_series([0, 1, 2, 3], [[1, 2, 3, 4], [4, 3, 2, 1]], keys=["up", "down"],
                                                     title="Series", xname="epoch")})
        with pytest.warns(darkroom.DarkroomWarning):
            run.log({"mine": darkroom.plot_table("me/my-chart/v1", bars, {"label": "label", "n": "count"})})
        report = run.finish(quiet=True)
        assert report.failed == [] and report.pending == 0
        return {"url": url, "path": run.path}


def chart(page, key: str):
    figure = page.locator(f"section.media-panel[data-key='{key}'] figure.custom-chart")
    figure.wait_for()
    page.wait_for_function("(f) => f.dataset.points !== undefined", arg=figure.element_handle())
    return figure


def test_a_line_chart_draws_a_line_per_stroke_value_with_a_legend_and_values_on_hover(page, ui_server, charts):
    open_run(page, ui_server(charts["url"]), charts["path"])
    figure = chart(page, "curve")
    assert figure.locator("figcaption").inner_text() == "Curves"
    assert figure.get_attribute("data-series") == "2" and figure.get_attribute("data-points") == "10"
    assert figure.locator(".legend-entry").all_inner_texts() == ["train", "val"]
    colours = [hex_rgb(figure.locator(".legend-entry .swatch").nth(i).evaluate(
        "(s) => '#' + getComputedStyle(s).backgroundColor.match(/\\d+/g).map((v) => Number(v).toString(16).padStart(2, '0')).join('')"))
        for i in range(2)]
    pixels = np.asarray(screenshot(figure.locator("canvas"), "custom-line")).reshape(-1, 3).astype(int)
    for colour in colours:  # each line is drawn in its legend's colour
        assert (np.abs(pixels - colour).sum(axis=1) < 40).sum() > 100, colour
    # The pointer over the train line's last point (x=4, y=16) shows those values.
    at = figure.evaluate("(f) => { const c = f.chartCanvas; return [c.px(4), c.py(16)]; }")
    box = figure.locator("canvas").bounding_box()
    page.mouse.move(box["x"] + at[0], box["y"] + at[1])
    tooltip = figure.locator(".chart-tooltip")
    page.wait_for_function("(t) => !t.hidden", arg=tooltip.element_handle())
    assert tooltip.inner_text().split("\n") == ["train", "x: 4", "y: 16"]


def test_a_bar_chart_and_a_histogram_show_their_values_on_hover(page, ui_server, charts):
    open_run(page, ui_server(charts["url"]), charts["path"])
    bars = chart(page, "counts")
    assert bars.get_attribute("data-points") == "2"
    lines = bars.evaluate("(f) => { const c = f.chartCanvas; return c.hoverAt(c.px(1), c.py(3)); }")
    assert lines == ["label dog", "count: 7"]
    spread = chart(page, "spread")
    assert spread.get_attribute("data-points") == "20"  # 20 bins of the 10 values
    first = spread.evaluate("(f) => { const c = f.chartCanvas; return c.hoverAt(c.px(0.1), c.py(0)); }")
    assert first == ["y 0 – 0.8", "count: 1"]  # values 0..16 in 20 bins of 0.8: only 0 in the first
    nines = spread.evaluate("(f) => { const c = f.chartCanvas; return c.hoverAt(c.px(9.2), c.py(0)); }")
    assert nines == ["y 8.8 – 9.6", "count: 2"]  # train's 9 and val's 9


def test_a_scatter_and_a_line_series_show_their_points_legend_and_values_on_hover(page, ui_server, charts):
    open_run(page, ui_server(charts["url"]), charts["path"])
    dots = chart(page, "dots")
    assert dots.locator("figcaption").inner_text() == "Dots"
    assert dots.get_attribute("data-series") == "1" and dots.get_attribute("data-points") == "10"
    assert dots.evaluate("(f) => { const c = f.chartCanvas; return c.hoverAt(c.px(4), c.py(16)); }") == [
        "x: 4", "y: 16"]
    series = chart(page, "series")
    assert series.locator("figcaption").inner_text() == "Series"
    assert series.get_attribute("data-series") == "2" and series.get_attribute("data-points") == "8"
    assert series.locator(".legend-entry").all_inner_texts() == ["up", "down"]
    assert series.evaluate("(f) => { const c = f.chartCanvas; return c.hoverAt(c.px(3), c.py(1)); }") == [
        "step: 3", "lineVal: 1"]


def test_a_vega_spec_of_ones_own_shows_its_name_and_its_data(page, ui_server, charts):
    open_run(page, ui_server(charts["url"]), charts["path"])
    figure = chart(page, "mine")
    assert "me/my-chart/v1" in figure.locator(".custom-chart-table p").first.inner_text()
    rows = figure.locator("table.data-table tbody tr")
    assert [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())] == [["cat", "3"], ["dog", "7"]]
