"""darkroom.ui: the viewer's JSON API, files with ranges and safety headers, and its token, over a logged run."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import darkroom
from darkroom._cli import main
from darkroom.pipeline import paths
from darkroom.pipeline.history import media_ref
from darkroom.ui.app import make_app
from darkroom.ui.serve import choose_token

LOCAL = "http://127.0.0.1:8765"  # a loopback Host: a viewer without a token answers no other
TOKEN = "t0ken-for-the-tests-0123456789"
BOXES = {"predictions": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6},
                                       "class_id": 1, "scores": {"acc": 0.9}}],
                         "class_labels": {1: "car"}}}


@pytest.fixture(scope="module")
def stored(tmp_path_factory, embedded_in):
    """Two runs in one file:// storage; one item of the first made pending. (url, first, second)."""
    root = tmp_path_factory.mktemp("ui")
    rng = np.random.default_rng(0)
    with embedded_in(root) as url:
        mask = np.zeros((32, 32), np.uint8)
        mask[4:12, 8:20] = 2
        run = darkroom.init(project="vision", name="first", config={"lr": 0.01, "odd": float("nan")})
        run.log({"loss": 0.9, "samples": [
            darkroom.Image(rng.integers(0, 255, (32, 32, 3), np.uint8), caption="s0", boxes=BOXES,
                           masks={"truth": {"mask_data": mask, "class_labels": {2: "road"}}}),
            darkroom.Image(np.full((8, 8), 200, np.uint8), caption="s1")],
            "hist": darkroom.Histogram(np.arange(10), num_bins=5),
            "page": darkroom.Html("<p>hello</p><script>parent.document.title='x'</script>", inject=False)})
        run.log({"loss": float("nan"), "samples": [darkroom.Image(np.zeros((4, 4), np.uint8))],
                 "broken": darkroom.Image(np.full((2, 2), np.nan))})
        run.log({"loss": 0.1, "samples": [darkroom.Image(np.zeros((4, 4), np.uint8)),
                                          darkroom.Image(np.ones((4, 4), np.uint8))]})
        run.finish(quiet=True)
        time.sleep(0.01)  # a later start: listed first
        other = darkroom.init(project="tables")
        other.log({"x": 1, "table": darkroom.Table(columns=["id", "picture"],
                                                   data=[[7, darkroom.Image(np.full((5, 5), 9, np.uint8))]])})
        other.finish(quiet=True)
    # Step 2 logged a third image that no worker has converted yet: its history row
    # says 3, two manifests exist (a later history chunk's row for a step wins).
    api = darkroom.Api(url)
    row = {"_step": 2, "_timestamp": time.time(), "loss": 0.1, "samples": media_ref("image", 2, "samples", 3, True)}
    api.storage.put(paths.history_chunk_key("vision", run.id, 2), json.dumps(row).encode() + b"\n")
    return url, run.path, other.path


@pytest.fixture(scope="module")
def client(stored):
    with TestClient(make_app(stored[0]), base_url=LOCAL) as c:
        yield c


def get_json(client: TestClient, url: str, status: int = 200, **params: object) -> dict:
    response = client.get(url, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def media(client: TestClient, path: str, key: str, step: int) -> list[dict]:
    return get_json(client, f"/api/runs/{path}/media", key=key, step=step)["items"]


# -- runs -----------------------------------------------------------------------------------------------


def test_runs_are_listed_newest_first_with_their_state_and_item_counts(client, stored):
    url, first, other = stored
    runs = get_json(client, "/api/runs")["runs"]
    assert [r["path"] for r in runs] == [other, first]
    listed = runs[1]
    assert (listed["project"], f"{listed['project']}/{listed['run']}", listed["state"]) == ("vision", first, "finished")
    assert listed["name"] == "first" and listed["started_at"] <= runs[0]["started_at"]
    # step 0: 2 images + html; step 1: an image + a failed one; step 2: 2 images + 1 pending
    assert listed["counts"] == {"logged": 8, "converted": 6, "failed": 1, "pending": 1}
    assert runs[0]["counts"] == {"logged": 2, "converted": 2, "failed": 0, "pending": 0}  # a table, its image cell
    assert [r["path"] for r in get_json(client, "/api/runs", project="vision")["runs"]] == [first]
    assert get_json(client, "/api/runs", project="nothing-here")["runs"] == []


def test_a_running_run_silent_past_the_limit_is_shown_crashed(stored, tmp_path):
    url = f"file://{tmp_path / 'data'}"
    api = darkroom.Api(url)
    now = time.time()
    for run, started in (("ghost", now - 3 * 3600), ("alive", now - 3 * 3600), ("fresh", now - 60)):
        stamp = dt.datetime.fromtimestamp(started, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        api.storage.put(paths.run_json_key("p", run), json.dumps(
            {"project": "p", "run": run, "state": "running", "created_at": stamp}).encode())
    # "alive" started long ago but logged a row a minute ago.
    api.storage.put(paths.history_chunk_key("p", "alive", 0),
                    json.dumps({"_step": 0, "_timestamp": now - 60, "loss": 1.0}).encode() + b"\n")
    with TestClient(make_app(url, crashed_after_s=3600), base_url=LOCAL) as client:
        states = {r["run"]: r["state"] for r in get_json(client, "/api/runs")["runs"]}
        assert states == {"ghost": "crashed", "alive": "running", "fresh": "running"}
        assert get_json(client, "/api/runs/p/ghost")["state"] == "crashed"
    with TestClient(make_app(url, crashed_after_s=4 * 3600), base_url=LOCAL) as client:
        assert {r["state"] for r in get_json(client, "/api/runs")["runs"]} == {"running"}


# -- one run ----------------------------------------------------------------------------------------------------


def test_a_run_has_its_config_summary_scalar_series_media_keys_and_histograms(client, stored):
    _, first, _ = stored
    response = client.get(f"/api/runs/{first}")
    run = response.json()
    assert run["path"] == first and run["info"]["name"] == "first" and run["state"] == "finished"
    assert run["config"] == {"lr": 0.01, "odd": None}  # NaN is not JSON: null
    assert run["scalars"] == {"loss": [[0, 0.9], [1, None], [2, 0.1]]}
    assert run["media"]["samples"] == {"kind": "image", "steps": [0, 1, 2], "counts": [2, 1, 3]}
    assert run["media"]["broken"]["steps"] == [1] and run["media"]["page"]["kind"] == "html"
    assert run["histograms"]["hist"] == [{"step": 0, "bins": [0.0, 1.8, 3.6, 5.4, 7.2, 9.0], "counts": [2, 2, 2, 2, 2]}]
    assert run["summary"]["loss"] == 0.1
    assert run["summary"]["samples"] == {"_type": "media-ref", "kind": "image", "step": 2, "key": "samples",
                                         "count": 2, "list": True}
    assert run["last_step"] == 2
    assert "artifact" not in response.text  # no manifests: one step's media is fetched at a time


def test_one_steps_images_come_with_their_boxes_masks_and_file_urls(client, stored):
    url, first, _ = stored
    first_item, second_item = media(client, first, "samples", 0)
    assert (first_item["status"], first_item["caption"], first_item["index"]) == ("ok", "s0", 0)
    assert first_item["boxes"]["predictions"]["box_data"][0]["position"] == {
        "minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6}
    assert first_item["artifact"]["width"] == 32 and second_item["caption"] == "s1"
    reader = darkroom.Api(url).run(first)
    png = client.get(first_item["url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content == reader.read(reader.manifest(0, "samples", 0))
    truth = first_item["masks"]["truth"]
    assert truth["class_labels"]["2"] == "road" and truth["classes_present"] == [0, 2]
    assert first_item["related"] == {"mask:truth": truth["url"]}
    mask = client.get(truth["url"])
    assert mask.headers["content-type"] == "image/png"
    assert mask.content == reader.read(reader.manifest(0, "samples", 0), "mask:truth")
    assert [f["role"] for f in first_item["related_files"]] == ["mask:truth"]


def test_a_failed_item_carries_its_error_and_no_url(client, stored):
    _, first, _ = stored
    (item,) = media(client, first, "broken", 1)
    assert item["status"] == "failed" and item["url"] is None and item["related"] == {}
    assert item["error"]["code"] == "non_finite" and "NaN" in item["error"]["message"]
    response = client.get(f"/api/runs/{first}/file", params={"key": "broken", "step": 1})
    assert response.status_code == 404 and "failed" in response.json()["error"]


def test_an_item_logged_but_not_converted_yet_is_pending(client, stored):
    _, first, _ = stored
    done, _, pending = media(client, first, "samples", 2)
    assert pending == {"status": "pending", "kind": "image", "step": 2, "key": "samples", "index": 2, "url": None,
                       "related": {}, "related_files": [], "masks": {}}
    assert done["status"] == "ok" and done["url"]
    response = client.get(f"/api/runs/{first}/file", params={"key": "samples", "step": 2, "index": 2})
    assert response.status_code == 404 and "not converted yet" in response.json()["error"]


def test_a_key_logged_again_with_fewer_items_in_one_row_shows_only_its_last_value(tmp_path, embedded_in):
    with embedded_in(tmp_path) as url:
        run = darkroom.init(project="again")
        run.log({"x": [darkroom.Image(np.zeros((2, 2), np.uint8)) for _ in range(3)]}, commit=False)
        run.log({"x": [darkroom.Image(np.ones((3, 3), np.uint8))]})
        run.finish(quiet=True)
    with TestClient(make_app(url), base_url=LOCAL) as c:
        items = media(c, run.path, "x", 0)
    assert [(i["index"], i["revision"], i["artifact"]["width"]) for i in items] == [(0, 2, 3)]


def test_a_table_has_its_media_cells_as_items_with_urls(client, stored):
    _, first, other = stored
    table = get_json(client, f"/api/runs/{other}/table", key="table", step=0, index=0)
    assert table["columns"] == ["id", "picture"]
    (row,) = table["data"]
    assert row[0] == 7 and row[1]["kind"] == "image" and row[1]["status"] == "ok"
    cell = client.get(row[1]["url"])
    assert cell.status_code == 200 and cell.content.startswith(b"\x89PNG")
    assert get_json(client, f"/api/runs/{first}/table", 400, key="samples", step=0)["error"].endswith(
        "is a image, not a table or plot")


# -- files -------------------------------------------------------------------------------------------------------


def test_files_answer_byte_ranges_so_players_can_seek(client, stored):
    _, first, _ = stored
    (item, _) = media(client, first, "samples", 0)
    whole = client.get(item["url"])
    size = len(whole.content)
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-length"] == str(size) and size > 100
    # Not HTML: opened on its own it runs nothing at all.
    assert whole.headers["content-security-policy"] == "sandbox"
    part = client.get(item["url"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{size}" and part.headers["content-length"] == "10"
    assert client.get(item["url"], headers={"Range": "bytes=-5"}).content == whole.content[-5:]
    tail = client.get(item["url"], headers={"Range": f"bytes={size - 3}-"})
    assert tail.status_code == 206 and tail.content == whole.content[-3:]
    past = client.get(item["url"], headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    assert client.get(item["url"], headers={"Range": "bytes=0-1,5-6"}).status_code == 200  # several: whole file
    etag = whole.headers["etag"]
    assert client.get(item["url"], headers={"If-None-Match": etag}).status_code == 304


def test_html_is_served_sandboxed_and_never_sniffed(client, stored):
    _, first, _ = stored
    (item,) = media(client, first, "page", 0)
    assert item["untrusted"] is True
    response = client.get(item["url"])
    assert response.status_code == 200 and b"<p>hello</p>" in response.content
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    # Its scripts may run, never with allow-same-origin: an opaque origin that cannot reach the page,
    # and no network at all (issue 16, item 13).
    policy = [d.strip() for d in response.headers["content-security-policy"].split(";")]
    assert policy[0] == "sandbox allow-scripts" and "default-src 'none'" in policy
    assert {"script-src 'unsafe-inline'", "style-src 'unsafe-inline'", "form-action 'none'"} <= set(policy)
    assert not any("allow-same-origin" in d or "http" in d or "'self'" in d or "*" in d for d in policy)
    assert response.headers["x-content-type-options"] == "nosniff"


# -- requests that try to reach something else -----------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/runs/%2E%2E/%2E%2E",
    "/api/runs/vision/..%2F..%2Frun.json",
    "/api/runs/%2E%2E%2F%2E%2E/etc/file?key=passwd&step=0",
    "/api/runs/vision/no-such-run",
    "/api/runs/vision/no-such-run/media?key=samples&step=0",
    "/api/nothing",
    "/static/..%2F..%2Fapp.py",
    "/static/../app.py",
])
def test_paths_that_escape_or_name_nothing_are_404_with_a_json_error(client, path):
    response = client.get(path)
    assert response.status_code == 404, response.text
    assert response.json()["error"]


@pytest.mark.parametrize("route", ["media/many", "table/page"])
@pytest.mark.parametrize("run", ["%2E%2E/%2E%2E", "vision/..%2F..%2Fetc", "vision/no-such-run"])
def test_the_compare_and_table_page_routes_refuse_runs_that_escape_or_name_nothing(client, route, run):
    response = client.get(f"/api/runs/{run}/{route}", params={"key": "samples", "step": 0})
    assert response.status_code == 404, response.text
    assert response.json()["error"]


def test_a_path_as_key_or_role_reaches_no_file_through_the_compare_and_table_page_routes(client, stored):
    _, first, _ = stored
    # A key is any printable text, stored under an encoded name: a path is just a key no item has.
    answers = get_json(client, f"/api/runs/{first}/media/many",
                       key=["../../../../etc/passwd", "samples"], step=[0, 0])["answers"]
    assert "no media '../../../../etc/passwd' at step 0" in answers[0]["error"] and "items" not in answers[0]
    assert [i["status"] for i in answers[1]["items"]]  # the other pair is answered as usual
    for params in ({"key": "../../../../etc/passwd", "step": 0}, {"key": "samples", "step": 0, "index": 9}):
        assert get_json(client, f"/api/runs/{first}/table/page", 404, **params)["error"]
    # The images' key is not a table: refused by kind, never read as one.
    assert "not a table" in get_json(client, f"/api/runs/{first}/table/page", 400, key="samples", step=0)["error"]


@pytest.mark.parametrize("params", [
    {"key": "../../../../etc/passwd", "step": 0},
    {"key": "samples", "step": 0, "index": 9},
    {"key": "samples", "step": 0, "role": "../../../run.json"},
    {"key": "samples", "step": 0, "role": "mask:nothing"},
    {"key": "raw", "step": 0},
    {"key": "nothing", "step": 7},
])
def test_file_parameters_are_resolved_through_manifests_or_404(client, stored, params):
    _, first, _ = stored
    assert get_json(client, f"/api/runs/{first}/file", 404, **params)["error"]


@pytest.mark.parametrize(("params", "message"), [
    ({"step": 0}, "query parameter 'key' is required"),
    ({"key": "samples", "step": "one"}, "query parameter step='one'; accepted: a whole number >= 0"),
    ({"key": "samples", "step": "-1"}, "query parameter step='-1'; accepted: a whole number >= 0"),
])
def test_malformed_parameters_are_400_with_what_is_accepted(client, stored, params, message):
    _, first, _ = stored
    assert get_json(client, f"/api/runs/{first}/media", 400, **params)["error"] == message


def test_an_unreachable_storage_is_a_503_with_a_message_not_a_traceback(monkeypatch):
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DARKROOM_S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with TestClient(make_app("s3://nobody/here"), base_url=LOCAL) as client:
        response = client.get("/api/runs")
    assert response.status_code == 503
    assert "unreachable" in response.json()["error"] and "Traceback" not in response.text


# -- who may ask ---------------------------------------------------------------------------------------------------


def test_with_a_token_every_request_needs_it_by_query_header_or_the_cookie_it_sets(stored):
    url, first, _ = stored
    with TestClient(make_app(url, token=TOKEN), base_url="http://203.0.113.7:8765") as client:
        refused = client.get("/api/runs")
        assert refused.status_code == 401 and "token" in refused.json()["error"]
        assert client.get(f"/api/runs/{first}", params={"token": TOKEN + "x"}).status_code == 401
        assert client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert "set-cookie" not in client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).headers
        first_visit = client.get("/api/runs", params={"token": TOKEN})
        assert first_visit.status_code == 200
        cookie = first_visit.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and cookie.startswith("darkroom_ui_token_8765=")
        assert client.get(f"/api/runs/{first}").status_code == 200  # the cookie alone
        client.cookies.clear()
        assert client.get(f"/api/runs/{first}").status_code == 401


def test_without_a_token_only_a_loopback_host_name_is_answered(stored):
    for foreign in ("http://evil.example:8765", "http://127.0.0.1.evil.example:8765", "http://10.0.0.1:8765"):
        with TestClient(make_app(stored[0]), base_url=foreign) as client:
            response = client.get("/api/runs")
            assert response.status_code == 403 and "not a loopback name" in response.json()["error"], foreign
    for base in ("http://localhost:8765", "http://127.0.0.1", "http://[::1]:8765"):
        with TestClient(make_app(stored[0]), base_url=base) as client:
            assert client.get("/api/runs").status_code == 200, base


def test_a_token_is_required_off_loopback_and_taken_from_the_flag_or_the_environment():
    for loopback in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert choose_token(loopback, None, {}) is None, loopback
    assert choose_token("127.0.0.1.example.com", None, {}) is not None
    made = choose_token("0.0.0.0", None, {})
    assert made is not None and len(made) >= 40 and made != choose_token("0.0.0.0", None, {})
    assert choose_token("0.0.0.0", None, {"DARKROOM_UI_TOKEN": TOKEN}) == TOKEN
    assert choose_token("127.0.0.1", TOKEN, {"DARKROOM_UI_TOKEN": "other-token-0123456789"}) == TOKEN
    with pytest.raises(ValueError, match="16-256 letters"):
        choose_token("0.0.0.0", "short", {})


# -- the page and the command ------------------------------------------------------------------------------------


def test_the_page_and_its_modules_are_served_with_the_types_browsers_need(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert b"<html" in page.content.lower()
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy  # no inline or foreign script
    assert page.headers["referrer-policy"] == "no-referrer"
    modules = [p for p in (os.listdir(os.path.join(os.path.dirname(darkroom.__file__), "ui", "static", "js")))
               if p.endswith(".js")]
    assert modules, "the page's modules are missing"
    script = client.get(f"/static/js/{modules[0]}")
    assert script.status_code == 200 and script.headers["content-type"] == "text/javascript; charset=utf-8"


def test_the_command_serves_the_storage_and_prints_its_url(stored, ui_server):
    url, first, _ = stored
    base = ui_server(url[len("file://"):])
    with urllib.request.urlopen(f"{base}/api/runs/{first}") as response:
        assert json.load(response)["path"] == first
    guarded = ui_server(url, token=TOKEN)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{guarded}/api/runs")
    assert refused.value.code == 401
    with urllib.request.urlopen(f"{guarded}/api/runs?token={TOKEN}") as response:
        assert len(json.load(response)["runs"]) == 2


def test_the_command_says_which_extra_to_install_when_uvicorn_is_missing(monkeypatch, stored):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` now fails as if not installed
    result = CliRunner().invoke(main, ["ui", "--storage", stored[0], "--port", "0"])
    assert result.exit_code == 1
    assert "pip install 'darkroom[ui]'" in result.output and "uvicorn" in result.output
