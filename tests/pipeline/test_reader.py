"""Tests of darkroom.pipeline.reader: a run built by hand in a file storage, read back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from darkroom.pipeline import paths
from darkroom.pipeline.errors import DamagedObject, InvalidInput, NotFound
from darkroom.pipeline.history import is_media_ref, media_ref
from darkroom.pipeline.manifest import Manifest
from darkroom.pipeline.reader import RunReader, list_runs, split_run_path
from darkroom.pipeline.storage import Storage, open_storage

PROJECT, RUN = "demo", "3k2j9x"
KEY = "val/examples"


def put_artifact(storage: Storage, data: bytes, ext: str = "png") -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    uri = storage.put(paths.media_key("image", sha, ext), data)
    return {"uri": uri, "sha256": sha, "bytes": len(data), "format": ext, "media_type": f"image/{ext}"}


def put_manifest(storage: Storage, step: int, key: str, index: int, revision: int = 1,
                 artifact: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    manifest = Manifest.model_validate(dict(
        project=PROJECT, run=RUN, step=step, key=key, index=index, kind="image", revision=revision,
        status="ok" if artifact else "failed", artifact=artifact,
        error=None if artifact else {"code": "invalid_shape", "message": "image array of shape (5,)"},
        converter={"name": "image", "version": "1"}, **fields,
    ))
    storage.put(paths.manifest_key(PROJECT, RUN, step, key, index, revision), manifest.to_json_bytes())
    return manifest.model_dump(mode="json", by_alias=True)


def put_history(storage: Storage, first_seq: int, rows: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(row) + "\n" for row in rows) + "\n"  # a blank line is tolerated
    storage.put(paths.history_chunk_key(PROJECT, RUN, first_seq), text.encode())


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return open_storage(f"file://{tmp_path / 'store'}")


@pytest.fixture
def run(storage: Storage) -> dict[str, Any]:
    """A run of three steps: a list of two images (the second reprocessed), a single image, a missing one."""
    storage.put(paths.run_json_key(PROJECT, RUN), json.dumps(
        {"project": PROJECT, "run": RUN, "config": {"lr": 0.1}, "state": "finished"}).encode())
    built: dict[str, Any] = {"png0": b"\x89PNG step0 item0", "png1": b"\x89PNG step0 item1 r1",
                             "png1r2": b"\x89PNG step0 item1 r2", "mask": b"\x89PNG mask"}
    art0 = put_artifact(storage, built["png0"])
    built["m0"] = put_manifest(storage, 0, KEY, 0, artifact=art0, caption="first",
                               related=[{"role": "mask:pred", **put_artifact(storage, built["mask"])}])
    put_manifest(storage, 0, KEY, 1, artifact=put_artifact(storage, built["png1"]))
    built["m1r2"] = put_manifest(storage, 0, KEY, 1, revision=2, artifact=put_artifact(storage, built["png1r2"]))
    built["failed"] = put_manifest(storage, 1, "single", 0)
    put_history(storage, 0, [
        {"_step": 0, "_timestamp": 1.0, "loss": 0.9, KEY: media_ref("image", 0, KEY, 2, True)},
        {"_step": 1, "_timestamp": 2.0, "loss": 0.5, "single": media_ref("image", 1, "single", 1, False)},
    ])
    # After a crash and `darkroom sync` step 1 arrives again in a later chunk; the last one wins.
    put_history(storage, 2, [
        {"_step": 1, "_timestamp": 2.5, "loss": 0.4, "single": media_ref("image", 1, "single", 1, False)},
        {"_step": 2, "_timestamp": 3.0, "loss": 0.3, "later": media_ref("image", 2, "later", 1, False)},
    ])
    storage.put(paths.summary_key(PROJECT, RUN), json.dumps(
        {"loss": 0.3, "best": media_ref("image", 0, KEY, 1, False)}).encode())
    return built


@pytest.fixture
def reader(storage: Storage, run: dict[str, Any]) -> RunReader:
    return RunReader(storage, PROJECT, RUN)


def test_a_media_ref_names_what_the_reader_needs_to_find_the_manifests() -> None:
    ref = media_ref("image", 4, KEY, 3, True)
    assert ref == {"_type": "media-ref", "kind": "image", "step": 4, "key": KEY, "count": 3, "list": True}
    assert is_media_ref(json.loads(json.dumps(ref)))
    assert not is_media_ref({"_type": "histogram"})
    assert not is_media_ref(["media-ref"])


def test_info_and_config_come_from_run_json(reader: RunReader) -> None:
    assert reader.info["state"] == "finished"
    assert reader.config == {"lr": 0.1}


def test_a_missing_run_raises_not_found_naming_the_run_and_the_storage(storage: Storage) -> None:
    with pytest.raises(NotFound) as info:
        RunReader(storage, PROJECT, "nope").info
    assert str(info.value) == f"no run {PROJECT}/nope in {storage.url}"


def test_history_has_one_row_per_step_in_step_order_and_the_last_written_wins(reader: RunReader) -> None:
    rows = list(reader.history(resolve=False))
    assert [row["_step"] for row in rows] == [0, 1, 2]
    assert [row["loss"] for row in rows] == [0.9, 0.4, 0.3]
    assert is_media_ref(rows[0][KEY])


def test_history_row_agrees_with_history_and_reads_one_step(storage: Storage) -> None:
    reader = RunReader(storage, PROJECT, "rows")
    put_rows = lambda first, rows: storage.put(  # noqa: E731
        paths.history_chunk_key(PROJECT, "rows", first), "".join(json.dumps(r) + "\n" for r in rows).encode())
    put_rows(0, [{"_step": s, "v": s} for s in range(5)])
    put_rows(5, [{"_step": s, "v": s} for s in range(5, 10)])
    # Sent again after a crash (darkroom sync): a chunk from step 3 that rewrites 3..7.
    put_rows(3, [{"_step": s, "v": -s} for s in range(3, 8)])
    whole = {row["_step"]: row for row in reader.history(resolve=False)}
    for step in range(10):
        assert reader.history_row(step) == whole[step], step
    assert reader.history_row(10) is None


def test_history_resolves_a_media_list_to_a_list_of_newest_manifests(reader: RunReader, run: dict) -> None:
    row = next(reader.history())
    items = row[KEY]
    assert isinstance(items, list) and len(items) == 2
    assert items[0] == run["m0"]
    assert items[1] == run["m1r2"]
    assert items[1]["revision"] == 2


def test_history_resolves_a_single_media_value_to_one_manifest(reader: RunReader, run: dict) -> None:
    rows = list(reader.history())
    assert rows[1]["single"] == run["failed"]
    assert rows[1]["single"]["status"] == "failed"


def test_a_media_value_without_its_manifest_yet_resolves_to_a_pending_placeholder(reader: RunReader) -> None:
    rows = list(reader.history())
    assert rows[2]["later"] == {"status": "pending", "kind": "image", "step": 2, "key": "later", "index": 0}


def test_a_list_with_one_manifest_missing_gets_a_placeholder_for_that_item_only(
    storage: Storage, reader: RunReader
) -> None:
    storage.delete(paths.manifest_key(PROJECT, RUN, 0, KEY, 1))
    storage.delete(paths.manifest_key(PROJECT, RUN, 0, KEY, 1, revision=2))
    items = next(reader.history())[KEY]
    assert items[0]["status"] == "ok"
    assert items[1] == {"status": "pending", "kind": "image", "step": 0, "key": KEY, "index": 1}


def test_the_summary_resolves_media_refs_and_a_run_without_one_has_an_empty_summary(
    storage: Storage, reader: RunReader, run: dict
) -> None:
    assert reader.summary == {"loss": 0.3, "best": run["m0"]}
    storage.delete(paths.summary_key(PROJECT, RUN))
    assert reader.summary == {}


def test_manifests_lists_every_item_once_at_its_newest_revision_in_order(reader: RunReader, run: dict) -> None:
    manifests = reader.manifests()
    assert [(m["step"], m["key"], m["index"], m["revision"]) for m in manifests] == [
        (0, KEY, 0, 1), (0, KEY, 1, 2), (1, "single", 0, 1),
    ]


def test_manifests_filters_by_key_and_step(reader: RunReader, run: dict) -> None:
    assert reader.manifests(key=KEY) == [run["m0"], run["m1r2"]]
    assert reader.manifests(step=1) == [run["failed"]]
    assert reader.manifests(key=KEY, step=0) == [run["m0"], run["m1r2"]]
    assert reader.manifests(key=KEY, step=1) == []
    assert reader.manifests(key="val") == []  # a key is matched whole, not as a prefix


def test_a_third_revision_wins_over_the_second_and_the_tenth_over_the_ninth(
    storage: Storage, reader: RunReader
) -> None:
    art = put_artifact(storage, b"r3")
    put_manifest(storage, 0, KEY, 1, revision=3, artifact=art)
    assert reader.manifest(0, KEY, 1)["revision"] == 3
    put_manifest(storage, 0, KEY, 1, revision=9, artifact=art)
    put_manifest(storage, 0, KEY, 1, revision=10, artifact=art)
    assert reader.manifest(0, KEY, 1)["revision"] == 10  # numeric, not text order


def test_manifest_finds_one_item_or_none(reader: RunReader, run: dict) -> None:
    assert reader.manifest(0, KEY, 0) == run["m0"]
    assert reader.manifest(0, KEY, 5) is None
    assert reader.manifest(7, KEY, 0) is None


def test_stray_files_among_the_manifests_are_ignored(storage: Storage, reader: RunReader) -> None:
    prefix = paths.manifests_prefix(PROJECT, RUN)
    storage.put(prefix + "0/" + paths.segment(KEY) + "/notes.txt", b"x")
    storage.put(prefix + "README.json", b"x")
    assert len(reader.manifests()) == 3


def test_read_returns_the_artifact_bytes_of_a_manifest_dict_or_model(reader: RunReader, run: dict) -> None:
    assert reader.read(run["m0"]) == run["png0"]
    assert reader.read(Manifest.model_validate(run["m1r2"])) == run["png1r2"]
    assert reader.read(run["m0"], role="mask:pred") == run["mask"]


def test_download_writes_the_artifact_under_a_readable_name(
    reader: RunReader, run: dict, tmp_path: Path
) -> None:
    path = reader.download(run["m0"], tmp_path / "out")
    assert path == tmp_path / "out" / "0-val%2Fexamples-0.png"
    assert path.read_bytes() == run["png0"]
    mask = reader.download(Manifest.model_validate(run["m0"]), tmp_path / "out", role="mask:pred")
    assert mask.name == "0-val%2Fexamples-0-mask%3Apred.png"
    assert mask.read_bytes() == run["mask"]


def test_read_and_download_refuse_a_failed_manifest_with_its_error(
    reader: RunReader, run: dict, tmp_path: Path
) -> None:
    for call in (lambda: reader.read(run["failed"]), lambda: reader.download(run["failed"], tmp_path / "out")):
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.code == "no_artifact"
        assert info.value.message == "'single' step 1 has no artifact: image array of shape (5,)"
    assert not (tmp_path / "out").exists()


def test_read_refuses_a_pending_item(reader: RunReader) -> None:
    pending = list(reader.history())[2]["later"]
    with pytest.raises(InvalidInput, match="^'later' step 2 has no artifact: pending$"):
        reader.read(pending)


def test_read_refuses_an_unknown_role_and_lists_the_known_ones(reader: RunReader, run: dict) -> None:
    with pytest.raises(InvalidInput) as info:
        reader.read(run["m0"], role="mask:truth")
    assert info.value.message == "no related file with role 'mask:truth'; roles: mask:pred"
    with pytest.raises(InvalidInput, match="roles: none$"):
        reader.read(run["m1r2"], role="mask:pred")


def test_read_refuses_an_artifact_uri_outside_the_storage(reader: RunReader, run: dict) -> None:
    forged = dict(run["m0"], artifact=dict(run["m0"]["artifact"], uri="file:///etc/passwd"))
    with pytest.raises(InvalidInput, match="is outside this storage"):
        reader.read(forged)


def test_a_run_reader_refuses_unsafe_project_or_run_names(storage: Storage) -> None:
    with pytest.raises(InvalidInput, match="project name '..' is not accepted"):
        RunReader(storage, "..", RUN)
    with pytest.raises(InvalidInput, match="run name 'a/b' is not accepted"):
        RunReader(storage, PROJECT, "a/b")


def test_split_run_path_gives_project_and_run_and_refuses_other_forms() -> None:
    assert split_run_path("demo/3k2j9x") == ("demo", "3k2j9x")
    assert split_run_path("/demo/3k2j9x/") == ("demo", "3k2j9x")
    with pytest.raises(InvalidInput, match="run path 'demo' is not 'project/run_id'"):
        split_run_path("demo")
    with pytest.raises(InvalidInput, match="run name 'a/b' is not accepted"):
        split_run_path("demo/a/b")


def test_list_runs_finds_runs_with_a_run_json(storage: Storage, run: dict) -> None:
    storage.put(paths.run_json_key("other", "r1"), b"{}")
    storage.put(paths.history_chunk_key("other", "no-run-json", 0), b"")
    assert list_runs(storage) == [(PROJECT, RUN), ("other", "r1")]
    assert list_runs(storage, "other") == [("other", "r1")]
    assert list_runs(storage, "nobody") == []


# -- damaged objects ----------------------------------------------------------------------------------


def test_a_manifest_object_that_is_not_a_manifest_is_named_as_damaged(storage: Storage, reader: RunReader) -> None:
    key = paths.manifest_key(PROJECT, RUN, 1, "single", 0)
    storage.put(key, b'{"schema": "darkroom.manifest/1", "step": 1}')
    with pytest.raises(DamagedObject) as info:
        reader.manifests(key="single", step=1)
    assert info.value.key == key and info.value.line is None
    assert str(info.value).startswith(f"damaged object {key}: not a manifest (")


def test_a_damaged_index_falls_back_to_listing_the_manifests(storage: Storage, reader: RunReader,
                                                             run: dict, caplog) -> None:
    index_key = paths.index_journal_key(PROJECT, RUN, "torn")
    storage.put(index_key, b"#darkroom.index/1\n1\tsingle\t0\t1\tok\n")
    assert [m["index"] for m in reader.manifests(key=KEY)] == [0, 1]
    assert f"damaged object {index_key}, line 2" in caplog.text


def test_the_summary_and_run_json_name_themselves_when_damaged(storage: Storage, reader: RunReader) -> None:
    for key, read in [(paths.summary_key(PROJECT, RUN), lambda: reader.summary),
                      (paths.run_json_key(PROJECT, RUN), lambda: reader.info)]:
        storage.put(key, b'{"loss": 0.')
        with pytest.raises(DamagedObject, match=f"^damaged object {key}: not JSON"):
            read()


def test_a_history_line_that_is_not_a_row_names_its_object_and_line(storage: Storage, reader: RunReader) -> None:
    key = paths.history_chunk_key(PROJECT, RUN, 2)
    for line, problem in [(b'{"_step": 2, "lo', "not JSON"), (b'[1, 2]', "not a history row"),
                          (b'{"_step": "2"}', "not a history row"), (b'{"_step": true}', "not a history row"),
                          (b'{"_step": 2, "x": "\xff"}', "not JSON")]:
        storage.put(key, b'{"_step": 2, "loss": 0.3}\n' + line + b"\n")
        with pytest.raises(DamagedObject, match=f"^damaged object {key}, line 2: {problem}"):
            list(reader.history(resolve=False))


def test_a_copied_storage_reads_artifacts_by_their_key(storage: Storage, run: dict, tmp_path: Path) -> None:
    copy = open_storage(f"file://{tmp_path / 'copy'}")
    for key in storage.list():
        copy.put(key, storage.get(key))
    moved = RunReader(copy, PROJECT, RUN)
    [m0, _] = moved.manifests(key=KEY)
    assert m0["artifact"]["uri"].startswith(storage.url)
    assert moved.read(m0) == run["png0"] and moved.read(m0, role="mask:pred") == run["mask"]
    assert moved.file_size(m0) == len(run["png0"])
    assert b"".join(moved.stream(m0, start=1, end=4)) == run["png0"][1:4]


def test_an_index_entry_that_is_not_a_manifest_names_the_run_index(storage: Storage, reader: RunReader) -> None:
    storage.put(paths.index_journal_key(PROJECT, RUN, "odd"),
                b'#darkroom.index/1\n1\tsingle\t0\t1\tok\timage\t\t\t{"step": 1, "key": "single", "index": 0}\n')
    with pytest.raises(DamagedObject) as info:
        reader.manifests()
    assert info.value.key == paths.index_prefix(PROJECT, RUN)
    assert "the entry of step 1 key 'single' index 0 is not a manifest" in str(info.value)
