"""darkroom.Api: runs, info, history, summary, manifests and media bytes read back from storage."""

from __future__ import annotations

import io

import numpy as np
import pytest

import darkroom
from darkroom.pipeline.errors import ConfigError, InvalidInput, NotFound


@pytest.fixture(scope="module")
def stored(tmp_path_factory, embedded_in):
    """Two finished runs in one file:// storage: (storage_url, first run path, second run path)."""
    root = tmp_path_factory.mktemp("api")
    with embedded_in(root) as url:
        mask = np.zeros((4, 6), np.uint8)
        mask[1:3, 2:5] = 3
        run = darkroom.init(project="vision", name="first", config={"lr": 0.01, "layers": [2, 3]})
        run.log({"loss": 0.9, "sample": darkroom.Image(np.full((4, 6, 3), 10, np.uint8), caption="c0",
                                                       masks={"seg": {"mask_data": mask}})})
        run.log({"loss": 0.4, "sample": darkroom.Image(np.full((4, 6, 3), 20, np.uint8)),
                 "broken": darkroom.Image(np.full((2, 2), np.nan))})
        run.finish(quiet=True)
        other = darkroom.init(project="audio-ish")
        other.log({"x": 1})
        other.finish(quiet=True)
    return url, run.path, other.path


def test_runs_lists_every_run_and_filters_by_project(stored):
    url, first, other = stored
    api = darkroom.Api(url)
    assert api.runs() == sorted([first, other])
    assert api.runs("vision") == [first]
    assert api.runs("nothing-here") == []


def test_run_info_holds_config_name_state_and_versions(stored):
    url, first, _ = stored
    reader = darkroom.Api(url).run(first)
    info = reader.info
    assert info["name"] == "first" and info["state"] == "finished" and info["darkroom"] == darkroom.__version__
    assert reader.config == {"lr": 0.01, "layers": [2, 3]}
    assert info["runtime"] >= 0 and info["finished_at"] >= info["created_at"]


def test_history_and_summary_resolve_media_to_manifests(stored):
    url, first, _ = stored
    reader = darkroom.Api(url).run(first)
    rows = list(reader.scan_history())
    assert [(r["_step"], r["loss"]) for r in rows] == [(0, 0.9), (1, 0.4)]
    assert rows[0]["sample"]["caption"] == "c0" and rows[0]["sample"]["step"] == 0
    assert reader.summary["loss"] == 0.4 and reader.summary["sample"]["step"] == 1


def test_manifests_come_in_step_key_index_order_and_filter_by_key_and_step(stored):
    url, first, _ = stored
    reader = darkroom.Api(url).run(first)
    assert [(m["step"], m["key"], m["status"]) for m in reader.manifests()] == [
        (0, "sample", "ok"), (1, "broken", "failed"), (1, "sample", "ok")]
    assert [m["step"] for m in reader.manifests(key="sample")] == [0, 1]
    assert [m["key"] for m in reader.manifests(step=1)] == ["broken", "sample"]
    assert reader.manifest(1, "broken", 0)["error"]["code"] == "non_finite"
    assert reader.manifest(9, "sample", 0) is None


def test_read_and_download_return_the_artifact_and_its_related_files(stored, tmp_path):
    from PIL import Image as PILImage

    url, first, _ = stored
    reader = darkroom.Api(url).run(first)
    manifest = reader.manifest(0, "sample", 0)
    with PILImage.open(io.BytesIO(reader.read(manifest))) as png:
        assert png.size == (6, 4) and png.getpixel((0, 0)) == (10, 10, 10)
    path = reader.download(manifest, tmp_path / "out")
    assert path == tmp_path / "out" / "0-sample-0.png"
    assert path.read_bytes() == reader.read(manifest)
    mask_path = reader.download(manifest, tmp_path / "out", role="mask:seg")
    assert mask_path.name == "0-sample-0-mask%3Aseg.png"
    with PILImage.open(mask_path) as mask:
        assert mask.getpixel((3, 1)) == 3 and mask.getpixel((0, 0)) == 0


def test_reading_a_failed_item_or_a_missing_role_raises_naming_what_is_there(stored):
    url, first, _ = stored
    reader = darkroom.Api(url).run(first)
    with pytest.raises(InvalidInput, match=r"'broken' step 1 has no artifact: image has 4 NaN"):
        reader.read(reader.manifest(1, "broken", 0))
    with pytest.raises(InvalidInput, match=r"no related file with role 'mask:other'; roles: mask:seg"):
        reader.read(reader.manifest(0, "sample", 0), role="mask:other")


def test_a_run_that_is_not_in_storage_raises_not_found_naming_it(stored):
    url, _, _ = stored
    with pytest.raises(NotFound, match=rf"no run vision/zzzz in {url}"):
        darkroom.Api(url).run("vision/zzzz")


@pytest.mark.parametrize("path", ["vision", "../etc/passwd", "vision/../x", "vision/a b"])
def test_a_malformed_run_path_is_refused_naming_it(stored, path):
    url, _, _ = stored
    with pytest.raises(InvalidInput) as info:
        darkroom.Api(url).run(path)
    assert info.value.code == "invalid_name"


def test_api_reads_darkroom_storage_url_by_default(stored, monkeypatch):
    url, first, _ = stored
    monkeypatch.setenv("DARKROOM_STORAGE_URL", url)
    assert darkroom.Api().runs("vision") == [first]


def test_a_storage_url_of_an_unknown_scheme_is_refused_naming_the_variable(clean_env):
    with pytest.raises(ConfigError, match=r"DARKROOM_STORAGE_URL='ftp://x' is not a storage URL; accepted: file://PATH or s3://"):
        darkroom.Api("ftp://x")


# -- W&B's read API: run objects, history as a DataFrame, scan_history ----------------------------------------


def test_history_is_a_sampled_dataframe_and_scan_history_every_row_as_w_and_b(embedded_env):
    run = darkroom.init(project="wbread", name="first", config={"lr": 0.1})
    run.define_metric("val/*", step_metric="epoch")
    for step in range(10):
        row = {"loss": 10.0 - step}
        if step % 5 == 4:
            row.update({"epoch": step // 5, "val/acc": step / 10})
        run.log(row)
    run.finish(quiet=True)
    api = darkroom.Api()
    stored = api.run(run.path)
    frame = stored.history()
    assert list(frame["loss"]) == [10.0 - s for s in range(10)] and list(frame["_step"]) == list(range(10))
    sampled = stored.history(samples=4, pandas=False)
    assert [r["_step"] for r in sampled] == [0, 3, 6, 9]
    accuracy = stored.history(keys=["val/acc"])
    assert list(accuracy.columns) == ["_step", "epoch", "val/acc"]  # the x-axis define_metric gave it
    assert accuracy.values.tolist() == [[4, 0, 0.4], [9, 1, 0.9]]
    assert [r["loss"] for r in stored.scan_history()] == [10.0 - s for s in range(10)]
    assert [r["_step"] for r in stored.history(resolve=False)] == list(range(10))  # RunReader's call, as the viewer's
    assert list(stored.scan_history(keys=["val/acc"])) == [{"val/acc": 0.4}, {"val/acc": 0.9}]
    assert (stored.name, stored.id, stored.config, stored.summary["loss"]) == ("first", run.id, {"lr": 0.1}, 1.0)
    assert stored.metrics["val/*"]["step_metric"] == "epoch"
    assert api.run(f"some-entity/{run.path}") == run.path  # W&B's entity/project/run_id


def test_runs_are_run_objects_and_their_paths(embedded_env):
    made = []
    for name in ("a", "b"):
        run = darkroom.init(project="wbruns", name=name, config={"name": name})
        run.log({"x": 1})
        run.finish(quiet=True)
        made.append(run)
    runs = darkroom.Api().runs("entity/wbruns")
    assert sorted(runs) == sorted(r.path for r in made)
    by_name = {r.name: r for r in runs}
    assert by_name["a"].config == {"name": "a"} and by_name["b"].summary == {"x": 1}
    assert list(by_name["a"].history()["x"]) == [1] and by_name["a"].id == made[0].id
