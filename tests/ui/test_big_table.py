"""Tables of 200,000 rows in the viewer: the server sorts, filters and pages them (the rows checked
against a plain Python reference), and the page loads only its visible rows' media (requests counted)."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image as PILImage
from starlette.testclient import TestClient

import darkroom
from darkroom.ui.app import make_app
from test_browser import browser, open_run, page  # noqa: F401  (the browser fixtures of the viewer's tests)

LOCAL = "http://127.0.0.1:8765"
ROWS = 200_000
NAMES = ["cat", "dog", "bird", "fish", "Cat"]
PICTURES = 40


def _rows() -> list[list]:
    rng = random.Random(14)
    return [[i, None if i % 1000 == 7 else round(rng.uniform(0, 100), 4), f"{NAMES[i % 5]}{i % 997}", i % 3 == 0]
            for i in range(ROWS)]


@pytest.fixture(scope="module")
def stored(tmp_path_factory, embedded_in):
    """A run with a 200,000-row table and a run with a table of images; (url, big path, pictures path, rows)."""
    rows = _rows()
    with embedded_in(tmp_path_factory.mktemp("big-table")) as url:
        big = darkroom.init(project="tables", name="big")
        big.log({"t": darkroom.Table(columns=["id", "score", "name", "even"], data=rows)})
        assert big.finish(quiet=True).failed == []
        pics = darkroom.init(project="tables", name="pictures")
        table = darkroom.Table(columns=["id", "picture"])
        for i in range(PICTURES):
            table.add_data(i, darkroom.Image(np.full((8, 8), 5 * i, np.uint8)))
        pics.log({"t": table})
        report = pics.finish(quiet=True)
        assert report.failed == [] and report.converted == PICTURES + 1
    return url, big.path, pics.path, rows


def _reference(rows, sort=None, descending=False, keep=lambda row: True):
    ids = [i for i, row in enumerate(rows) if keep(row)]
    if sort is not None:  # descending: the ascending order reversed, missing values still last
        present = sorted((i for i in ids if rows[i][sort] is not None), key=lambda i: rows[i][sort])
        ids = (present[::-1] if descending else present) + [i for i in ids if rows[i][sort] is None]
    return ids


def _page(client, path, **params):
    project, run = path.split("/")
    answer = client.get(f"/api/runs/{project}/{run}/table/page", params={"key": "t", "step": 0, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_server_sorts_filters_and_pages_200000_rows(stored):
    url, big, _, rows = stored
    client = TestClient(make_app(url), base_url=LOCAL)
    first = _page(client, big, limit=25)
    assert first["rows"] == first["matched"] == ROWS and first["row_ids"] == list(range(25))
    assert first["data"] == rows[:25] and first["sortable"] == [0, 1, 2, 3]
    by_score = _reference(rows, sort=1, descending=True)
    page = _page(client, big, sort=1, order="desc", offset=1000, limit=50)
    assert page["row_ids"] == by_score[1000:1050] and page["data"] == [rows[i] for i in by_score[1000:1050]]
    last = _page(client, big, sort=1, offset=ROWS - 10, limit=10)  # missing scores last
    assert last["data"] == [rows[i] for i in _reference(rows, sort=1)[-10:]] and last["data"][-1][1] is None
    by_name = _reference(rows, sort=2, keep=lambda r: r[1] is not None and 20 <= r[1] < 30 and "cat" in r[2].casefold())
    page = _page(client, big, sort=2, limit=100, offset=200,
                 filter=["1:ge:20", "1:lt:30", "2:contains:CAT"])
    assert page["matched"] == len(by_name) and page["row_ids"] == by_name[200:300]
    equal = _reference(rows, keep=lambda r: r[2] == "dog1" and r[3])
    page = _page(client, big, filter=["2:eq:dog1", "3:eq:true"], limit=500)
    assert page["row_ids"] == equal and len(equal) > 0


def test_the_whole_table_route_refuses_a_big_table_and_bad_page_parameters_say_what_is_accepted(stored):
    url, big, _, _ = stored
    client = TestClient(make_app(url), base_url=LOCAL)
    project, run = big.split("/")
    whole = client.get(f"/api/runs/{project}/{run}/table", params={"key": "t", "step": 0})
    assert whole.status_code == 400 and "ask /table/page for a page" in whole.json()["error"]
    for params, message in [({"order": "up"}, "accepted: asc or desc"), ({"limit": 1000}, "accepted: 1 to 500"),
                            ({"filter": "1>3"}, "accepted: <column index>:<op>:<value>"),
                            ({"sort": "x"}, "accepted: a whole number"), ({"sort": 9}, "columns 0..3")]:
        answer = client.get(f"/api/runs/{project}/{run}/table/page", params={"key": "t", "step": 0, **params})
        assert answer.status_code == 400 and message in answer.json()["error"], (params, answer.text)


def test_a_page_of_media_cells_holds_only_its_rows_items_with_their_files(stored):
    url, _, pics, _ = stored
    client = TestClient(make_app(url), base_url=LOCAL)
    page = _page(client, pics, sort=0, order="desc", offset=10, limit=10)
    assert page["row_ids"] == list(range(29, 19, -1))
    for (row_id, cell) in zip(page["row_ids"], (row[1] for row in page["data"])):
        assert cell["status"] == "ok" and cell["index"] == row_id
        pixels = np.asarray(PILImage.open(io.BytesIO(client.get(cell["url"]).content)))
        assert (pixels == 5 * row_id).all()


# -- in the browser ---------------------------------------------------------------------------------------


def _wait_ready(page, panel):
    page.wait_for_function("(p) => p.querySelector('.table-view')?.dataset.state === 'ready'",
                           arg=panel.element_handle())


def _shown_ids(panel) -> list[int]:
    return [int(i) for i in panel.locator("table.data-table tbody tr").evaluate_all("(rs) => rs.map((r) => r.dataset.row)")]


def test_the_page_sorts_and_filters_a_200000_row_table_on_the_server(page, ui_server, stored):  # noqa: F811
    url, big, _, rows = stored
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/table?" in r.url or "/table/page?" in r.url else None)
    open_run(page, ui_server(url), big)
    panel = page.locator("section.media-panel[data-key='t']")
    _wait_ready(page, panel)
    assert _shown_ids(panel) == list(range(10)) and "200,000 rows" in panel.locator(".page-label").inner_text()
    header = panel.locator("th[data-column='score']")
    header.click()
    header.click()  # descending
    top = _reference(rows, sort=1, descending=True)[:10]
    page.wait_for_function("([p, want]) => [...p.querySelectorAll('tbody tr')].map((r) => r.dataset.row).join() === want",
                           arg=[panel.element_handle(), ",".join(map(str, top))])
    _wait_ready(page, panel)
    panel.locator("select.filter-column").select_option(label="name")
    panel.locator("select.filter-op").select_option("eq")
    panel.locator("input.filter-value").fill("bird2")
    panel.locator("button.filter-add").click()
    want = _reference(rows, sort=1, descending=True, keep=lambda r: r[2] == "bird2")
    page.wait_for_function("([p, n]) => p.querySelector('.table-view').dataset.matched === n",
                           arg=[panel.element_handle(), str(len(want))])
    _wait_ready(page, panel)
    assert _shown_ids(panel) == want[:10] and len(want) > 10
    assert panel.locator(".filter-chip").inner_text().startswith("name = bird2")
    assert asked and all("/table/page?" in u for u in asked), asked  # never the whole table


def test_the_page_loads_only_its_visible_rows_media(page, ui_server, stored):  # noqa: F811
    url, _, pics, _ = stored
    files: list[str] = []
    page.on("request", lambda r: files.append(r.url) if "/file?" in r.url and "_table" in r.url else None)
    open_run(page, ui_server(url), pics)
    panel = page.locator("section.media-panel[data-key='t']")
    _wait_ready(page, panel)
    page.wait_for_function("(p) => p.querySelectorAll('canvas.image-canvas[data-ready]').length === 10",
                           arg=panel.element_handle())
    assert _shown_ids(panel) == list(range(10)) and len(files) == 10, files
    panel.locator("button.next").click()
    page.wait_for_function("(p) => p.querySelector('.table-view').dataset.page === '1'", arg=panel.element_handle())
    _wait_ready(page, panel)
    assert _shown_ids(panel) == list(range(10, 20))
    assert sorted(int(u.split("index=")[1].split("&")[0]) for u in files) == list(range(20))
