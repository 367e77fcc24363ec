"""Plotly figures drawn by the viewer with its own plotly.js, in a sandboxed frame (a real browser)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

import darkroom
import darkroom.ui
from test_browser import browser, open_run, page, screenshot  # noqa: F401  (fixtures)

VENDOR = Path(darkroom.ui.__file__).resolve().parent / "static" / "vendor" / "plotly"


@pytest.fixture(scope="module")
def figure_run(tmp_path_factory: pytest.TempPathFactory, embedded_in) -> dict:
    with embedded_in(tmp_path_factory.mktemp("plotly")) as url:
        run = darkroom.init(project="plotly")
        fig = go.Figure(go.Bar(x=["a", "b", "c"], y=np.array([3.0, 1.0, 2.0]), marker_color="rgb(255,0,0)"))
        run.log({"bars": fig})
        report = run.finish(quiet=True)
        assert report.failed == [] and report.pending == 0
        return {"url": url, "path": run.path}


def test_the_shipped_plotly_js_is_the_pinned_npm_file_with_its_licence():
    pinned = re.search(r"sha256 is\s+`([0-9a-f]{64})`", (VENDOR / "SOURCE.md").read_text()).group(1)
    assert hashlib.sha256((VENDOR / "plotly.min.js").read_bytes()).hexdigest() == pinned
    assert "MIT License" in (VENDOR / "LICENSE").read_text()


def test_a_plotly_figure_is_drawn_in_a_sandboxed_frame_with_the_shipped_plotly(page, ui_server, figure_run):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    base = ui_server(figure_run["url"])
    open_run(page, base, figure_run["path"])
    view = page.locator("section.media-panel[data-key='bars'] .plotly-view")
    page.wait_for_function("(v) => v.dataset.traces === '1'", arg=view.element_handle(), timeout=30_000)
    frame = view.locator("iframe")
    assert frame.get_attribute("sandbox") == "allow-scripts"
    pixels = np.asarray(screenshot(frame, "plotly-bars")).reshape(-1, 3).astype(int)
    assert (np.abs(pixels - (255, 0, 0)).sum(axis=1) < 30).sum() > 500  # the three red bars
    assert all(url.startswith(base) for url in requests), [u for u in requests if not u.startswith(base)]
    assert any(url.endswith("/static/vendor/plotly/plotly.min.js") for url in requests)


def test_the_frame_draws_nothing_outside_a_sandbox(page, ui_server, figure_run):
    page.goto(f"{ui_server(figure_run['url'])}/static/plotly_frame.html")
    page.wait_for_function("() => window.Plotly !== undefined")
    answer = page.evaluate("""() => new Promise((resolve) => {
        window.addEventListener('message', (e) => { if (e.data.error) resolve(e.data.error); });
        window.postMessage({figure: {data: [{type: 'bar', y: [1]}]}}, '*');
    })""")
    assert answer == "refused: this frame draws figures only when sandboxed"
    assert page.locator("#figure .main-svg").count() == 0
