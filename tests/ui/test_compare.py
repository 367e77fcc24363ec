"""The compare page in a real browser: two runs logged with known images at known steps, opened from the
runs list; the page's step slider, an unlinked panel, the difference view, linked zoom and a shared URL."""

from __future__ import annotations

import numpy as np
import pytest

import darkroom
from darkroom.ui.app import make_app
from test_browser import SHOTS, browser, open_run, page, screenshot  # noqa: F401  (the viewer's browser fixtures)

SIZE = 16
# A box in a corner of the "other" images (their centre pixel stays the image's colour).
BOXES = {"pred": {"box_data": [{"position": {"minX": 0.0, "maxX": 0.3, "minY": 0.0, "maxY": 0.3}, "class_id": 1}],
                  "class_labels": {1: "thing"}}}
A_STEPS, B_STEPS = (0, 10, 20), (0, 10, 15)
EPOCH_A, EPOCH_B = {0: 0, 10: 1, 20: 2}, {0: 0, 10: 2, 15: 3}  # beta's epochs are shorter


def colour_a(step: int) -> tuple[int, int, int]:
    return {0: (200, 40, 40), 10: (40, 200, 40), 20: (40, 40, 200)}[step]


def colour_b(step: int) -> tuple[int, int, int]:
    return (60 + 6 * step, 60 + 6 * step, 60 + 6 * step)


def solid(colour) -> np.ndarray:
    return np.tile(np.array(colour, np.uint8), (SIZE, SIZE, 1))


def split_a() -> np.ndarray:
    """Run A's "diff" image: left half (200, 120, 90), right half equal to run B's."""
    image = solid((60, 60, 60))
    image[:, : SIZE // 2] = (200, 120, 90)
    return image


CLOUD = np.random.default_rng(3).normal(0, 1, (2000, 3))  # the same cloud in both runs


def clip(red: int) -> np.ndarray:
    """Eight seconds of 32x32 frames (time, channel, height, width)."""
    frames = np.zeros((32, 3, 32, 32), np.uint8)
    frames[:, 0] = red
    return frames


def tone(hz: float) -> np.ndarray:
    """Three seconds of a sine at 8 kHz: long enough to seek in."""
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(3 * 8000) / 8000)).astype(np.float32)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, embedded_in):
    with embedded_in(tmp_path_factory.mktemp("compare")) as url:
        alpha = darkroom.init(project="cmp", name="alpha", config={"lr": 0.01, "model": {"depth": 2}})
        alpha.define_metric("img", step_metric="epoch")
        for step in A_STEPS:
            alpha.log({"img": darkroom.Image(solid(colour_a(step))), "other": darkroom.Image(solid(colour_a(step)), boxes=BOXES),
                       "diff": darkroom.Image(split_a()), "loss": 1.0 / (step + 1), "epoch": EPOCH_A[step],
                       **({"clip": darkroom.Video(clip(200), fps=4, format="webm"), "cloud": darkroom.Object3D(CLOUD),
                           "voice": darkroom.Audio(tone(440), sample_rate=8000)} if step == 0 else {})}, step=step)
        assert alpha.finish(quiet=True).failed == []
        beta = darkroom.init(project="cmp", name="beta", config={"lr": 0.1, "model": {"depth": 4}})
        beta.define_metric("img", step_metric="epoch")
        for step in B_STEPS:
            beta.log({"img": darkroom.Image(solid(colour_b(step))), "other": darkroom.Image(solid(colour_b(step)), boxes=BOXES),
                      "diff": darkroom.Image(solid((60, 60, 60))), "loss": 2.0 / (step + 1), "epoch": EPOCH_B[step],
                      **({"clip": darkroom.Video(clip(80), fps=4, format="webm"), "cloud": darkroom.Object3D(CLOUD),
                          "voice": darkroom.Audio(tone(660), sample_rate=8000)} if step == 0 else {})}, step=step)
        assert beta.finish(quiet=True).failed == []
    return {"url": url, "alpha": alpha.path, "beta": beta.path}


def _cell(page, key: str, path: str):
    return page.locator(f"section.compare-panel[data-key='{key}'] .compare-cell[data-run='{path}']")


def _wait_painted(page, step: int | None = None) -> None:
    page.wait_for_function("(step) => { const root = document.getElementById('app');"
                           " return root.dataset.painted && (step === null || root.dataset.step === String(step))"
                           " && [...document.querySelectorAll('section.compare-panel')].every((p) => p.dataset.painted); }",
                           arg=step)


def _centre(page, key: str, path: str, step: int) -> tuple[int, int, int]:
    """The colour in the middle of a run's image of `key`, once its cell shows `step`."""
    cell = _cell(page, key, path)
    page.wait_for_function("([c, s]) => c.dataset.step === s && c.querySelector('canvas.image-canvas[data-ready]')",
                           arg=[cell.element_handle(), str(step)])
    shot = screenshot(cell.locator("canvas.image-canvas"), f"compare-{key}-{path.split('/')[1]}-{step}")
    return shot.getpixel((shot.width // 2, shot.height // 2))[:3]


def _compare_url(base: str, runs, query: str = "") -> str:
    return f"{base}/#/compare?runs={runs['alpha']},{runs['beta']}{query}"


def test_runs_ticked_in_the_list_open_side_by_side_at_the_newest_step_with_overlaid_scalars(page, ui_server, runs):
    base = ui_server(runs["url"])
    page.goto(f"{base}/#/project/cmp")
    for path in (runs["beta"], runs["alpha"]):
        page.locator(f"tr[data-path='{path}'] input.select-run").check()
    shown = "() => [...document.querySelectorAll('table.runs-table tbody tr')].map((r) => r.dataset.path).join()"
    for config, want in [("model.depth>2", runs["beta"]), ("lr=0.01", runs["alpha"]), ("lr<1 model.depth<=4", None)]:
        page.locator("input.filter-config").fill(config)
        page.wait_for_function(f"() => ({shown})() === '{want or ','.join([runs['beta'], runs['alpha']])}'")
    page.locator("input.filter-config").fill("")
    page.locator("select.filter-state").select_option("running")
    page.wait_for_function(f"() => ({shown})() === ''")
    page.locator("select.filter-state").select_option("finished")
    page.locator("input.filter-name").fill("alp")  # filtering keeps what was ticked
    page.wait_for_function(f"() => ({shown})() === '{runs['alpha']}'")
    page.locator("button.compare-runs").click()
    _wait_painted(page, 20)
    assert page.locator(".run-chip").evaluate_all("(cs) => cs.map((c) => c.dataset.run)") == [runs["alpha"], runs["beta"]]
    assert _centre(page, "img", runs["alpha"], 20) == colour_a(20)
    assert _centre(page, "img", runs["beta"], 15) == colour_b(15)  # beta has no step 20: its nearest, said so
    assert "no media at step 20" in _cell(page, "img", runs["beta"]).locator(".cell-step").inner_text()
    colours = page.locator(".run-chip .swatch").evaluate_all("(s) => s.map((e) => getComputedStyle(e).backgroundColor)")
    borders = [_cell(page, "img", runs[n]).evaluate("(c) => getComputedStyle(c).borderTopColor") for n in ("alpha", "beta")]
    assert colours == borders and colours[0] != colours[1]  # each run keeps its colour
    page.locator("section.charts figure.chart[data-key='loss']").wait_for()


def test_the_page_slider_moves_every_panel_and_an_unlinked_panel_keeps_its_step(page, ui_server, runs):
    page.goto(_compare_url(ui_server(runs["url"]), runs))
    _wait_painted(page, 20)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/media" in r.url else None)
    page.locator("body").press("ArrowLeft")  # 20 -> 15: alpha's nearest is 10 (a tie goes to the earlier)
    _wait_painted(page, 15)
    # One request for alpha's three panels; beta's cells stay at its step 15: nothing asked.
    assert len(asked) == 1 and "/media/many?key=diff&step=10&key=img&step=10&key=other&step=10" in asked[0], asked
    assert _centre(page, "img", runs["alpha"], 10) == colour_a(10)
    assert _centre(page, "other", runs["alpha"], 10) == colour_a(10)
    assert _centre(page, "img", runs["beta"], 15) == colour_b(15)
    page.locator("section.compare-panel[data-key='other'] input.link-toggle").uncheck()
    page.locator("body").press("ArrowLeft")  # 15 -> 10: "other" stays where it was
    _wait_painted(page, 10)
    assert _centre(page, "img", runs["beta"], 10) == colour_b(10)
    assert _centre(page, "other", runs["beta"], 15) == colour_b(15)
    page.locator("input.page-step").evaluate("(s) => { s.value = '0'; s.dispatchEvent(new Event('input')); }")
    _wait_painted(page, 0)
    assert _centre(page, "img", runs["alpha"], 0) == colour_a(0)
    assert _centre(page, "other", runs["alpha"], 10) == colour_a(10)


def test_the_difference_view_of_two_known_images_shows_their_absolute_difference(page, ui_server, runs):
    page.goto(_compare_url(ui_server(runs["url"]), runs, "&step=0"))
    _wait_painted(page, 0)
    panel = page.locator("section.compare-panel[data-key='diff']")
    panel.locator("select.compare-mode").select_option("difference")
    page.wait_for_function("(p) => p.dataset.painted && p.querySelector('canvas.mode-canvas')", arg=panel.element_handle())
    shot = screenshot(panel.locator("canvas.mode-canvas"), "compare-difference")
    assert shot.getpixel((shot.width // 4, shot.height // 2))[:3] == (140, 60, 30)  # |(200,120,90) - (60,60,60)|
    assert shot.getpixel((3 * shot.width // 4, shot.height // 2))[:3] == (0, 0, 0)
    # Swipe: alpha left of the split, beta right of it, on the img panel (step 0: red and gray).
    img = page.locator("section.compare-panel[data-key='img']")
    img.locator("select.compare-mode").select_option("swipe")
    page.wait_for_function("(p) => p.dataset.painted && p.querySelector('canvas.mode-canvas')", arg=img.element_handle())
    img.locator("input.swipe-position").evaluate("(r) => { r.value = '25'; r.dispatchEvent(new Event('input')); }")
    shot = screenshot(img.locator("canvas.mode-canvas"), "compare-swipe")
    assert shot.getpixel((shot.width // 8, shot.height // 2))[:3] == colour_a(0)
    assert shot.getpixel((shot.width // 2, shot.height // 2))[:3] == colour_b(0)
    # Blink: alpha's image, then beta's, in turn.
    img.locator("select.compare-mode").select_option("blink")
    canvas = img.locator("canvas.mode-canvas")
    for side, colour in (("a", colour_a(0)), ("b", colour_b(0))):  # the label and the pixels read in one turn
        shown = page.wait_for_function(
            "([c, s]) => c.dataset.showing === s && [...c.getContext('2d')"
            ".getImageData(c.width >> 1, c.height >> 1, 1, 1).data.slice(0, 3)]", arg=[canvas.element_handle(), side])
        assert tuple(shown.json_value()) == colour


def test_zoom_is_linked_across_the_images_and_a_double_click_resets_it(page, ui_server, runs):
    page.goto(_compare_url(ui_server(runs["url"]), runs))
    _wait_painted(page, 20)
    panel = page.locator("section.compare-panel[data-key='img']")
    alpha, beta = (_cell(page, "img", runs[n]).locator("canvas.image-canvas") for n in ("alpha", "beta"))
    before = [alpha.bounding_box()["width"], beta.bounding_box()["width"]]
    alpha.hover()
    page.mouse.wheel(0, -400)
    page.wait_for_function("(p) => Number(p.dataset.zoom) > 1.5", arg=panel.element_handle())
    scale = float(panel.get_attribute("data-zoom"))
    after = [alpha.bounding_box()["width"], beta.bounding_box()["width"]]
    assert after == pytest.approx([w * scale for w in before], rel=0.01)  # both images, the same scale
    alpha.dblclick()
    page.wait_for_function("(p) => p.dataset.zoom === '1'", arg=panel.element_handle())
    assert [alpha.bounding_box()["width"], beta.bounding_box()["width"]] == pytest.approx(before, rel=0.01)


def test_a_shared_url_restores_the_runs_step_panels_view_and_zoom(page, ui_server, runs, browser):  # noqa: F811
    page.goto(_compare_url(ui_server(runs["url"]), runs))
    _wait_painted(page, 20)
    page.locator("body").press("ArrowLeft")
    _wait_painted(page, 15)
    page.locator("section.compare-panel[data-key='other'] input.link-toggle").uncheck()
    page.locator("section.compare-panel[data-key='diff'] select.compare-mode").select_option("difference")
    page.locator("section.compare-panel[data-key='other'] .box-group input[data-role='group-toggle']").uncheck()
    img = page.locator("section.compare-panel[data-key='img']")
    _cell(page, "img", runs["alpha"]).locator("canvas.image-canvas").hover()
    page.mouse.wheel(0, -400)
    page.wait_for_function("(p) => Number(p.dataset.zoom) > 1.5", arg=img.element_handle())
    zoom = img.get_attribute("data-zoom")
    page.locator(".key-picker label.key-choice[data-key='cloud'] input").uncheck()  # the keys shown too
    page.wait_for_function("() => !document.querySelector(\"section.compare-panel[data-key='cloud']\")"
                           " && document.getElementById('app').dataset.painted")
    page.wait_for_function("(z) => location.hash.includes('zoom')", arg=zoom)
    shared = page.url
    other = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1).new_page()
    try:
        other.goto(shared)
        _wait_painted(other, 15)
        assert other.locator("section.compare-panel[data-key='other'] input.link-toggle").is_checked() is False
        assert other.locator("section.compare-panel[data-key='diff']").get_attribute("data-mode") == "difference"
        assert other.locator("section.compare-panel[data-key='other'] .box-group input[data-role='group-toggle']"
                             ).is_checked() is False  # the overlay toggles too
        assert float(other.locator("section.compare-panel[data-key='img']").get_attribute("data-zoom")) == \
            pytest.approx(float(zoom))
        assert _centre(other, "img", runs["alpha"], 10) == colour_a(10)
        assert other.locator("section.compare-panel[data-key='cloud']").count() == 0
        assert other.locator("section.compare-panel[data-key='clip']").count() == 1
    finally:
        other.context.close()


def test_two_demo_runs_compare_with_every_panel_drawn(page, ui_server, embedded_env):
    from darkroom._demo import run_demo

    paths = []
    for steps, name in ((12, "demo-a"), (9, "demo-b")):
        run = run_demo(steps=steps, every=3, name=name)
        assert run.finish(quiet=True).failed == []
        paths.append(run.path)
    page.goto(f"{ui_server(embedded_env['DARKROOM_STORAGE_URL'])}/#/compare?runs={','.join(paths)}&step=9")
    _wait_painted(page, 9)
    assert page.locator("figure[data-status='failed']").count() == 0
    assert page.locator("section.compare-panel[data-key='examples'] .compare-cell").count() == 2
    # The README's picture (docs/img/compare.png is a copy): the page down to the examples' panel.
    SHOTS.mkdir(parents=True, exist_ok=True)
    examples = page.locator("section.compare-panel[data-key='examples']").bounding_box()
    page.set_viewport_size({"width": 1280, "height": int(examples["y"] + examples["height"]) + 16})
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "compare-page.png"))


def test_media_many_answers_each_key_and_step_in_order_and_says_which_have_nothing(runs):
    from starlette.testclient import TestClient

    client = TestClient(make_app(runs["url"]), base_url="http://127.0.0.1:8765")
    project, run = runs["beta"].split("/")
    pairs = [("img", 15), ("other", 0), ("img", 20), ("img", 10)]
    answer = client.get(f"/api/runs/{project}/{run}/media/many",
                        params=[p for key, step in pairs for p in (("key", key), ("step", step))])
    assert answer.status_code == 200, answer.text
    got = answer.json()["answers"]
    assert [(a["key"], a["step"]) for a in got] == pairs
    assert "no media 'img' at step 20" in got[2]["error"] and "items" not in got[2]
    single = client.get(f"/api/runs/{project}/{run}/media", params={"key": "img", "step": 15}).json()
    assert got[0] == single and [i["status"] for a in (got[1], got[3]) for i in a["items"]] == ["ok", "ok"]
    refused = client.get(f"/api/runs/{project}/{run}/media/many", params=[("key", "img")])
    assert refused.status_code == 400 and "accepted: 1 to 64 pairs" in refused.json()["error"]


def test_the_full_resolution_view_shows_one_image_with_its_metadata_and_closes_on_escape(page, ui_server, runs):
    page.goto(_compare_url(ui_server(runs["url"]), runs))
    _wait_painted(page, 20)
    _cell(page, "img", runs["alpha"]).locator("button.full-open").click()
    dialog = page.locator(".full-view")
    canvas = dialog.locator("canvas.image-canvas[data-ready]")
    canvas.wait_for()
    meta = dict(zip(dialog.locator(".full-meta th").all_inner_texts(), dialog.locator(".full-meta td").all_inner_texts()))
    assert meta["key"] == "img" and meta["step"] == "20" and meta["size"] == f"{SIZE} × {SIZE}"
    assert meta["run"] == "alpha" and meta["format"] == "png"
    shot = screenshot(canvas, "compare-full-view")
    assert shot.width >= SIZE and shot.getpixel((shot.width // 2, shot.height // 2))[:3] == colour_a(20)
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")


def test_the_run_pages_step_slider_moves_every_linked_panel_and_its_own_slider_unlinks_one(page, ui_server, runs):
    open_run(page, ui_server(runs["url"]), runs["alpha"])
    shown = ("(want) => Object.entries(want).every(([key, step]) => document.querySelector("
             "`section.media-panel[data-key='${key}'] .step-view[data-side='a']`)?.dataset.step === String(step))")
    page.wait_for_function(shown, arg={"img": 20, "other": 20, "diff": 20})
    page.locator("body").press("ArrowLeft")
    page.wait_for_function(shown, arg={"img": 10, "other": 10, "diff": 10})
    page.locator("section.media-panel[data-key='other'] input.link-toggle").uncheck()
    page.locator("body").press("ArrowLeft")
    page.wait_for_function(shown, arg={"img": 0, "diff": 0})
    assert page.locator("section.media-panel[data-key='other'] .step-view[data-side='a']").get_attribute("data-step") == "10"
    page.locator("section.media-panel[data-key='diff'] button.step-next").click()  # its own slider: unlinked
    page.wait_for_function(shown, arg={"diff": 10})
    assert page.locator("section.media-panel[data-key='diff'] input.link-toggle").is_checked() is False
    page.locator("body").press("ArrowRight")
    page.wait_for_function(shown, arg={"img": 10})
    assert page.locator("section.media-panel[data-key='diff'] .step-view[data-side='a']").get_attribute("data-step") == "10"
    page.wait_for_function("() => document.querySelector('section.media-panel[data-key=img] .step-view[data-painted]')")
    cell = page.locator("section.media-panel[data-key='img'] canvas.image-canvas[data-ready]")
    shot = screenshot(cell, "run-page-step-10")
    assert shot.getpixel((shot.width // 2, shot.height // 2))[:3] == colour_a(10)


@pytest.mark.parametrize(("key", "element", "first", "seconds"), [("clip", "video", 0, 5), ("voice", "audio", 1, 2)],
                         ids=["video", "audio"])
def test_the_runs_players_play_pause_and_seek_together(page, ui_server, runs, key, element, first, seconds):
    page.goto(_compare_url(ui_server(runs["url"]), runs))
    _wait_painted(page, 20)
    players = page.locator(f"section.compare-panel[data-key='{key}'] {element}")
    assert players.count() == 2, page.locator(f"section.compare-panel[data-key='{key}']").inner_html()
    handles = [players.nth(i).element_handle() for i in range(2)]
    page.wait_for_function("(ps) => ps.every((p) => p.readyState >= 1)", arg=handles)  # durations known
    players.nth(first).evaluate("(p) => p.play()")
    page.wait_for_function("(ps) => ps.every((p) => !p.paused)", arg=handles)  # the other run's follows
    other = players.nth(1 - first)
    other.evaluate("(p) => p.pause()")
    page.wait_for_function("(ps) => ps.every((p) => p.paused)", arg=handles)
    other.evaluate("(p, t) => { p.currentTime = t; }", seconds)
    page.wait_for_function("([ps, t]) => ps.every((p) => Math.abs(p.currentTime - t) < 0.1)", arg=[handles, seconds])


def test_the_runs_3d_views_share_one_camera(page, ui_server, runs):
    page.goto(_compare_url(ui_server(runs["url"]), runs))
    _wait_painted(page, 20)
    canvases = page.locator("section.compare-panel[data-key='cloud'] canvas.scene-canvas[data-ready]")
    assert canvases.count() == 2
    before = [np.asarray(screenshot(canvases.nth(i), f"compare-cloud-{i}-before")) for i in range(2)]
    assert (before[0] == before[1]).all()  # the same cloud, the same home view
    frames = canvases.nth(1).get_attribute("data-frames")
    box = canvases.nth(0).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2 + 40, steps=4)
    page.mouse.up()
    page.wait_for_function("([c, n]) => c.dataset.frames !== n", arg=[canvases.nth(1).element_handle(), frames])
    page.wait_for_function("(cs) => cs[0].dataset.frames === cs[1].dataset.frames",
                           arg=[canvases.nth(i).element_handle() for i in range(2)])
    after = [np.asarray(screenshot(canvases.nth(i), f"compare-cloud-{i}-after")) for i in range(2)]
    assert (after[0] != before[0]).any() and (after[0] == after[1]).all()  # turned, and turned together


def test_the_page_steps_along_a_declared_step_metric_each_run_at_its_own_step(page, ui_server, runs):
    page.goto(_compare_url(ui_server(runs["url"]), runs))
    _wait_painted(page, 20)
    page.locator("select.page-axis").select_option("epoch")
    _wait_painted(page, 3)  # the newest epoch of either run
    assert "x=epoch" in page.url
    assert _centre(page, "img", runs["alpha"], 20) == colour_a(20)  # epoch 2: alpha's nearest to 3
    assert "no media at epoch 3" in _cell(page, "img", runs["alpha"]).locator(".cell-step").inner_text()
    assert _centre(page, "img", runs["beta"], 15) == colour_b(15)
    page.locator("body").press("ArrowLeft")
    _wait_painted(page, 2)  # epoch 2: alpha's step 20, beta's step 10
    assert _centre(page, "img", runs["alpha"], 20) == colour_a(20)
    assert _centre(page, "img", runs["beta"], 10) == colour_b(10)
    assert page.locator(".page-step-label").inner_text().startswith("epoch 2")


def test_a_run_pages_images_zoom_together_and_open_at_full_resolution(page, ui_server, runs):
    open_run(page, ui_server(runs["url"]), runs["alpha"])
    panel = page.locator("section.media-panel[data-key='img']")
    panel.locator("input.compare-toggle").check()  # two steps side by side: one zoom for both
    page.wait_for_function("(p) => p.querySelectorAll('canvas.image-canvas[data-ready]').length === 2",
                           arg=panel.element_handle())
    canvases = panel.locator("canvas.image-canvas")
    before = [canvases.nth(i).bounding_box()["width"] for i in range(2)]
    canvases.nth(0).hover()
    page.mouse.wheel(0, -400)
    page.wait_for_function("(p) => Number(p.dataset.zoom) > 1.5", arg=panel.element_handle())
    scale = float(panel.get_attribute("data-zoom"))
    assert [canvases.nth(i).bounding_box()["width"] for i in range(2)] == pytest.approx([w * scale for w in before], rel=0.01)
    canvases.nth(1).dblclick()
    page.wait_for_function("(p) => p.dataset.zoom === '1'", arg=panel.element_handle())
    panel.locator(".step-view[data-side='a'] button.full-open").click()
    page.locator(".full-view canvas.image-canvas[data-ready]").wait_for()
    assert page.locator(".full-view tr[data-field='step'] td").inner_text() == "20"


def test_a_run_pages_url_restores_its_step_unlinked_panel_zoom_and_toggles(page, ui_server, runs, browser):  # noqa: F811
    open_run(page, ui_server(runs["url"]), runs["alpha"])
    page.locator("body").press("ArrowLeft")  # the page at step 10
    page.wait_for_function("() => location.hash.includes('step=10')")
    other = page.locator("section.media-panel[data-key='other']")
    other.locator("input.link-toggle").uncheck()
    other.locator(".box-group input[data-role='group-toggle']").uncheck()
    img = page.locator("section.media-panel[data-key='img']")
    img.locator("canvas.image-canvas").hover()
    page.mouse.wheel(0, -400)
    page.wait_for_function("(p) => Number(p.dataset.zoom) > 1.5", arg=img.element_handle())
    page.locator("body").press("ArrowLeft")  # the page at step 0; "other" stays at 10
    page.wait_for_function("() => location.hash.includes('step=0') && location.hash.includes('zoom')"
                           " && location.hash.includes('toggles')")
    shared, zoom = page.url, float(img.get_attribute("data-zoom"))
    again = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1).new_page()
    try:
        again.goto(shared)
        steps = ("() => ['img', 'other'].map((k) => document.querySelector("
                 "`section.media-panel[data-key='${k}'] .step-view[data-side='a'][data-painted]`)?.dataset.step).join()")
        again.wait_for_function(f"() => ({steps})() === '0,10'")
        restored = again.locator("section.media-panel[data-key='other']")
        assert restored.locator("input.link-toggle").is_checked() is False
        assert restored.locator(".box-group input[data-role='group-toggle']").is_checked() is False
        assert float(again.locator("section.media-panel[data-key='img']").get_attribute("data-zoom")) == pytest.approx(zoom)
    finally:
        again.context.close()


def test_a_run_pages_slider_steps_along_its_declared_step_metric(page, ui_server, runs):
    open_run(page, ui_server(runs["url"]), runs["beta"])
    page.locator("select.page-axis").select_option("epoch")
    page.wait_for_function("() => location.hash.includes('x=epoch')")
    assert page.locator(".page-step-label").inner_text().startswith("epoch 3 ")
    page.locator("body").press("ArrowLeft")  # epoch 2: beta's step 10
    shown = "() => document.querySelector(`section.media-panel[data-key='img'] .step-view[data-side='a'][data-painted]`)?.dataset.step"
    page.wait_for_function(f"() => ({shown})() === '10'")
    assert page.locator(".page-step-label").inner_text().startswith("epoch 2 ")
    clip = page.locator("section.media-panel[data-key='clip'] .step-view[data-side='a'] .step-label")
    assert "no media at epoch 2" in clip.inner_text()  # its only step, 0, is epoch 0
    page.locator("body").press("ArrowLeft")  # beta logged no epoch 1: epoch 0, step 0
    page.wait_for_function(f"() => ({shown})() === '0'")
    assert page.locator(".page-step-label").inner_text().startswith("epoch 0 ") and "no media" not in clip.inner_text()
