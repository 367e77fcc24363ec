"""Issue 16, item 15: a storage folder or S3 prefix copied or moved elsewhere still serves what it holds.

Manifests keep the absolute URIs they were written with; readers find each
object by its key under the storage they read from (`Storage.stored_key`).
"""

from __future__ import annotations

import io
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

import darkroom
from darkroom.pipeline.errors import UnsafeKey
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import Storage, open_storage
from darkroom.ui.app import make_app

LOCAL = "http://127.0.0.1:8765"  # a loopback Host: a viewer without a token answers no other
PIXELS = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)


@pytest.fixture(scope="module")
def logged(tmp_path_factory, embedded_in) -> tuple[Path, str]:
    """A finished run (an image with a mask, a scalar) in a file:// folder: (folder, run path)."""
    root = tmp_path_factory.mktemp("moved")
    with embedded_in(root):
        mask = np.zeros((4, 6), np.uint8)
        mask[1:3, 2:5] = 3
        run = darkroom.init(project="vision", name="before-the-move")
        run.log({"loss": 0.5, "sample": darkroom.Image(PIXELS, masks={"seg": {"mask_data": mask}})})
        report = run.finish(quiet=True)
    assert report.converted == 1
    return root / "data", run.path


def _copy(source: Storage, target: Storage) -> None:
    for key in source.list():
        target.put(key, source.get(key))


def _serves_its_media(url: str, path: str) -> None:
    """Read the run with `darkroom.Api` and through the viewer's file route, from `url`."""
    reader = darkroom.Api(url).run(path)
    [manifest] = reader.manifests(key="sample")
    assert not manifest["artifact"]["uri"].startswith(reader.storage.url + "/")  # written elsewhere
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(reader.read(manifest)))), PIXELS)
    assert reader.read(manifest, role="mask:seg")[:4] == b"\x89PNG"
    [row] = reader.scan_history()
    assert row["sample"]["status"] == "ok"
    project, run = path.split("/")
    with TestClient(make_app(url), base_url=LOCAL) as client:
        params = {"key": "sample", "step": 0, "index": 0}
        response = client.get(f"/api/runs/{project}/{run}/file", params=params)
        assert response.status_code == 200, response.text
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(response.content))), PIXELS)
        response = client.get(f"/api/runs/{project}/{run}/file", params={**params, "role": "mask:seg"})
        assert response.status_code == 200, response.text


def test_item_15_a_moved_storage_folder_still_serves_its_media(logged, tmp_path) -> None:
    folder, path = logged
    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(folder, moved)  # a copy keeps the fixture's folder for the other tests; a move is the same
    _serves_its_media(f"file://{moved}", path)


def test_item_15_a_copied_s3_prefix_serves_its_media_from_another_bucket_and_prefix(
    logged, s3_server, clean_env, monkeypatch
) -> None:
    folder, path = logged
    if s3_server.server is None:
        s3_server.start()

    def s3(url: str) -> Storage:
        return open_storage(url, Settings(storage_url=url, s3_endpoint_url=s3_server.endpoint,
                                          s3_access_key="testing", s3_secret_key="testing"))

    first = s3(f"s3://darkroom-{uuid.uuid4().hex[:12]}/team/a")
    _copy(open_storage(f"file://{folder}"), first)
    second_url = f"s3://darkroom-{uuid.uuid4().hex[:12]}/archive/2026"
    _copy(first, s3(second_url))
    monkeypatch.setenv("DARKROOM_S3_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    _serves_its_media(second_url, path)


def test_a_manifest_uri_that_names_no_stored_object_is_still_refused(logged, tmp_path) -> None:
    folder, path = logged
    reader = darkroom.Api(f"file://{folder}").run(path)
    [manifest] = reader.manifests(key="sample")
    for uri in ["file:///etc/passwd", "s3://other/runs/vision/x/run.json", "media/image/x.png",
                manifest["artifact"]["uri"].replace("/media/image/", "/media/image/../../")]:
        forged = dict(manifest, artifact=dict(manifest["artifact"], uri=uri))
        with pytest.raises(UnsafeKey, match="is outside this storage|is not a clean relative path"):
            reader.read(forged)


def test_item_15_a_moved_storage_folder_can_be_reprocessed(logged, tmp_path) -> None:
    from darkroom._reprocess import check_options
    from darkroom.pipeline.reprocess import Selection, plan

    folder, path = logged
    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(folder, moved)
    storage = open_storage(f"file://{moved}")
    result = plan(storage, Selection(selector=path, force=True), check_options)
    assert result.unbuildable == [] and len(result.requests) == 1
    [item] = result.requests[0].items
    assert storage.key_of(item.source.uri).startswith("raw/")  # the worker's own check accepts it
