"""workers/conversion.py: requests processed against a real file:// storage under tmp_path."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from darkroom.pipeline import paths
from darkroom.pipeline.manifest import Manifest
from darkroom.pipeline.messages import decode_request
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import Storage, open_storage
from darkroom.workers.conversion import WorkerContext, process_message, process_request

from converter_harness import NPY, npy_bytes, put_raw

PROJECT, RUN, STEP, KEY = "proj", "run-1", 3, "samples/val images"


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return open_storage(f"file://{tmp_path / 'store'}")


def put_array(storage: Storage, array: np.ndarray) -> dict[str, Any]:
    return put_raw(storage, npy_bytes(array))


def item(index: int, source: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"index": index, "source": source, **fields}


def request(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"schema": "darkroom.convert/1", "project": PROJECT, "run": RUN, "step": STEP, "key": KEY,
            "kind": "image", "items": list(items), **fields}


def process(storage: Storage, req: dict[str, Any], limits: Limits = Limits()) -> list[Manifest]:
    return process_request(decode_request(req), WorkerContext(storage, limits))


def stored_manifest(storage: Storage, index: int, revision: int = 1) -> Manifest:
    return Manifest.from_json_bytes(storage.get(paths.manifest_key(PROJECT, RUN, STEP, KEY, index, revision)))


def pixels_at(storage: Storage, uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(storage.get(storage.key_of(uri)))))


def file_of(storage: Storage, uri: str) -> Path:
    return Path(uri[len("file://"):])


def without_time(manifest: Manifest) -> dict[str, Any]:
    data = manifest.model_dump(mode="json", by_alias=True)
    data.pop("created_at")
    return data


def failure(storage: Storage, source: dict[str, Any], limits: Limits = Limits(), **fields: Any) -> Manifest:
    """Process one item and return its stored manifest, which must be a failure."""
    [returned] = process(storage, request(item(0, source), **fields), limits)
    manifest = stored_manifest(storage, 0)
    assert returned.status == manifest.status == "failed"
    assert manifest.artifact is None
    assert manifest.error is not None and manifest.error.message
    return manifest


# -- the happy path ------------------------------------------------------------------


def test_one_item_is_converted_stored_and_described_by_its_manifest(storage: Storage) -> None:
    array = (np.arange(5 * 7 * 3) % 256).astype(np.uint8).reshape(5, 7, 3)
    source = put_array(storage, array)
    [returned] = process(storage, request(item(0, source, caption="first")))

    manifest = stored_manifest(storage, 0)
    assert without_time(manifest) == without_time(returned)
    assert manifest.status == "ok" and manifest.error is None
    assert (manifest.project, manifest.run, manifest.step, manifest.key, manifest.index) == (PROJECT, RUN, STEP, KEY, 0)
    assert manifest.kind == "image" and manifest.caption == "first" and manifest.warnings == []
    assert manifest.source.uri == source["uri"] and manifest.source.sha256 == source["sha256"]
    assert manifest.converter.name == "image" and manifest.converter.version == "2"
    assert manifest.converter.options == {"file_type": "png", "normalize": True, "mode": None}

    artifact = manifest.artifact
    assert artifact.uri.startswith(storage.url + "/media/image/") and artifact.uri.endswith(".png")
    data = storage.get(storage.key_of(artifact.uri))
    assert artifact.sha256 == hashlib.sha256(data).hexdigest() and artifact.bytes == len(data)
    assert (artifact.format, artifact.media_type) == ("png", "image/png")
    extras = artifact.model_extra
    assert (extras["width"], extras["height"], extras["mode"]) == (7, 5, "RGB")
    np.testing.assert_array_equal(pixels_at(storage, artifact.uri), array)


def test_the_manifest_file_is_valid_json_with_the_manifest_schema(storage: Storage) -> None:
    process(storage, request(item(0, put_array(storage, np.zeros((2, 2), np.uint8)))))
    raw = json.loads(storage.get(paths.manifest_key(PROJECT, RUN, STEP, KEY, 0)))
    assert raw["schema"] == "darkroom.manifest/1" and raw["status"] == "ok"


def test_warnings_from_the_converter_reach_the_manifest(storage: Storage) -> None:
    source = put_array(storage, np.array([[-3, 400]], dtype=np.int16))
    process(storage, request(item(0, source)))
    assert stored_manifest(storage, 0).warnings == ["image values -3..400 clipped to 0..255"]


def test_options_are_applied_and_recorded(storage: Storage) -> None:
    source = put_array(storage, np.zeros((4, 4, 4), np.uint8))
    process(storage, request(item(0, source), options={"file_type": "jpeg"}))
    manifest = stored_manifest(storage, 0)
    assert manifest.artifact.format == "jpg" and manifest.artifact.uri.endswith(".jpg")
    assert manifest.converter.options["file_type"] == "jpeg"
    assert manifest.warnings == ["alpha channel dropped: JPEG has none (mode RGBA saved as RGB)"]
    assert Image.open(io.BytesIO(storage.get(storage.key_of(manifest.artifact.uri)))).format == "JPEG"


def test_an_image_file_payload_is_converted(storage: Storage) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (6, 4), (1, 2, 3)).save(buf, format="BMP")
    process(storage, request(item(0, put_raw(storage, buf.getvalue(), "bmp", "image/bmp"))))
    manifest = stored_manifest(storage, 0)
    assert manifest.status == "ok"
    assert (pixels_at(storage, manifest.artifact.uri) == (1, 2, 3)).all()


def test_a_mask_is_stored_as_a_related_png_with_labels_in_the_manifest(storage: Storage) -> None:
    mask = np.array([[0, 1], [2, 2]], np.uint8)
    source = put_array(storage, np.zeros((2, 2, 3), np.uint8))
    it = item(0, source, related={"mask:seg": put_array(storage, mask)},
              extra={"masks": {"seg": {"class_labels": {"1": "road"}}}})
    process(storage, request(it))
    [related] = stored_manifest(storage, 0).related
    assert related.role == "mask:seg" and related.format == "png"
    assert related.model_extra["class_labels"] == {"1": "road", "0": "class_0", "2": "class_2"}
    assert related.model_extra["classes_present"] == [0, 1, 2]
    np.testing.assert_array_equal(pixels_at(storage, related.uri), mask)
    assert related.sha256 == hashlib.sha256(storage.get(storage.key_of(related.uri))).hexdigest()


def test_boxes_are_stored_normalised_in_the_manifest(storage: Storage) -> None:
    boxes = {"pred": {"box_data": [{"position": {"minX": 5, "maxX": 10, "minY": 0, "maxY": 2},
                                    "domain": "pixel", "class_id": 2}], "class_labels": {"2": "cat"}}}
    process(storage, request(item(0, put_array(storage, np.zeros((4, 10), np.uint8)), extra={"boxes": boxes})))
    stored = stored_manifest(storage, 0).boxes
    assert stored["pred"]["box_data"][0]["position"] == pytest.approx(
        {"minX": 0.5, "maxX": 1.0, "minY": 0.0, "maxY": 0.5})
    assert stored["pred"]["class_labels"] == {"2": "cat"}


def test_a_second_revision_lands_on_its_own_manifest_key(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    process(storage, request(item(0, source)))
    process(storage, request(item(0, source), revision=2))
    assert storage.exists(paths.manifest_key(PROJECT, RUN, STEP, KEY, 0, 2))
    assert stored_manifest(storage, 0, revision=2).revision == 2
    assert stored_manifest(storage, 0).revision == 1


# -- one failure costs only its item ------------------------------------------------------


def test_one_bad_item_among_good_ones_fails_alone(storage: Storage) -> None:
    good = put_array(storage, np.full((3, 3), 7, np.uint8))
    bad = put_raw(storage, b"these bytes are no image " * 20, "png", "image/png")
    nan = put_array(storage, np.array([[np.nan, 0.5]]))
    manifests = process(storage, request(item(0, good), item(1, bad), item(2, good), item(3, nan)))

    assert [(m.index, m.status) for m in manifests] == [(0, "ok"), (1, "failed"), (2, "ok"), (3, "failed")]
    for index, code in ((1, "unreadable_file"), (3, "non_finite")):
        stored = stored_manifest(storage, index)
        assert stored.status == "failed" and stored.error.code == code and stored.artifact is None
    for index in (0, 2):
        stored = stored_manifest(storage, index)
        assert stored.status == "ok"
        assert (pixels_at(storage, stored.artifact.uri) == 7).all()


def test_identical_items_share_one_artifact(storage: Storage) -> None:
    source = put_array(storage, np.ones((2, 2), np.uint8))
    first, second = process(storage, request(item(0, source), item(1, source)))
    assert first.artifact.uri == second.artifact.uri


def test_different_options_give_different_artifacts(storage: Storage) -> None:
    source = put_array(storage, np.ones((2, 2), np.uint8))
    [png] = process(storage, request(item(0, source)))
    [bmp] = process(storage, request(item(0, source), options={"file_type": "bmp"}))
    assert png.artifact.uri != bmp.artifact.uri


# -- idempotence ---------------------------------------------------------------------


def test_running_a_request_twice_writes_the_same_manifests_and_does_not_re_encode(storage: Storage) -> None:
    mask = put_array(storage, np.zeros((3, 4), np.uint8))
    req = request(item(0, put_array(storage, np.eye(3, 4, dtype=np.uint8) * 200),
                       related={"mask:m": mask}),
                  item(1, put_array(storage, np.full((2, 2), 5, np.uint8))))
    first = process(storage, req)
    # Each delivery adds a journal object to the run's index; nothing else is new.
    keys_after_first = sorted(k for k in storage.list("") if "/index/" not in k)

    digest_uri = first[0].artifact.uri
    digest = digest_uri.rsplit("/", 1)[1].split(".")[0]
    sidecar = f"media/image/{digest}.meta.json"
    assert storage.exists(sidecar)
    artifact_file = file_of(storage, digest_uri)
    mask_file = file_of(storage, first[0].related[0].uri)
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (artifact_file, mask_file)]

    second = process(storage, req)
    assert [without_time(m) for m in second] == [without_time(m) for m in first]
    assert [without_time(stored_manifest(storage, i)) for i in (0, 1)] == [without_time(m) for m in first]
    assert sorted(k for k in storage.list("") if "/index/" not in k) == keys_after_first
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (artifact_file, mask_file)] == before


def test_a_converted_item_is_not_fetched_again_so_a_purged_payload_still_succeeds(storage: Storage) -> None:
    source = put_array(storage, np.full((2, 2), 9, np.uint8))
    req = request(item(0, source))
    [first] = process(storage, req)
    storage.delete(storage.key_of(source["uri"]))
    [second] = process(storage, req)
    assert second.status == "ok" and second.artifact == first.artifact


def test_a_torn_sidecar_is_ignored_and_the_item_converted_again(storage: Storage) -> None:
    source = put_array(storage, np.full((2, 2), 9, np.uint8))
    [first] = process(storage, request(item(0, source)))
    digest = first.artifact.uri.rsplit("/", 1)[1].split(".")[0]
    storage.put(f"media/image/{digest}.meta.json", b'{"artifact": ')
    [second] = process(storage, request(item(0, source)))
    assert second.status == "ok" and second.artifact == first.artifact
    assert json.loads(storage.get(f"media/image/{digest}.meta.json"))["artifact"]["uri"] == first.artifact.uri


# -- payloads that are refused -----------------------------------------------------------


def test_a_source_in_another_storage_root_is_an_unsafe_uri(storage: Storage, tmp_path: Path) -> None:
    other = open_storage(f"file://{tmp_path / 'other'}")
    manifest = failure(storage, put_array(other, np.zeros((2, 2), np.uint8)))
    assert manifest.error.code == "unsafe_uri"
    assert "outside this storage" in manifest.error.message


@pytest.mark.parametrize(
    "uri",
    ["file:///etc/passwd", "{root}/../outside/raw/x.npy", "{root}/raw/../../etc/passwd", "{root}/raw//x.npy",
     "{root}x/raw/a.npy", "s3://bucket/raw/a.npy", "/etc/passwd", "{root}/raw/%2e%2e/x", "{root}/raw\\..\\x"],
)
def test_a_uri_that_escapes_the_storage_is_refused_as_unsafe_uri(storage: Storage, uri: str) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    source["uri"] = uri.format(root=storage.url)
    manifest = failure(storage, source)
    # "%2e%2e" is a literal file name, not "..": it is safe and simply absent.
    assert manifest.error.code == ("missing_payload" if "%2e" in uri else "unsafe_uri")


def test_a_uri_inside_the_storage_but_not_under_raw_is_an_unsafe_uri(storage: Storage) -> None:
    data = npy_bytes(np.zeros((2, 2), np.uint8))
    sha = hashlib.sha256(data).hexdigest()
    uri = storage.put(f"runs/{PROJECT}/{RUN}/run.json", data)
    manifest = failure(storage, {"uri": uri, "sha256": sha, "bytes": len(data), "media_type": NPY, "ext": "npy"})
    assert manifest.error.code == "unsafe_uri"
    assert "is not a raw payload (raw/...)" in manifest.error.message


def test_a_payload_whose_sha256_does_not_match_is_a_corrupt_payload(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    storage.put(storage.key_of(source["uri"]), npy_bytes(np.ones((2, 2), np.uint8)))
    manifest = failure(storage, source)
    assert manifest.error.code == "corrupt_payload"
    assert "does not match its sha256" in manifest.error.message


def test_a_payload_that_is_not_in_storage_is_a_missing_payload(storage: Storage) -> None:
    data = npy_bytes(np.zeros((2, 2), np.uint8))
    sha = hashlib.sha256(data).hexdigest()
    source = {"uri": storage.uri(paths.raw_key(sha, "npy")), "sha256": sha, "bytes": len(data),
              "media_type": NPY, "ext": "npy"}
    manifest = failure(storage, source)
    assert manifest.error.code == "missing_payload"
    assert source["uri"] in manifest.error.message


def test_a_missing_mask_payload_fails_the_item(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    gone = dict(source, uri=storage.uri(paths.raw_key("0" * 64, "npy")), sha256="0" * 64)
    [manifest] = process(storage, request(item(0, source, related={"mask:m": gone})))
    assert manifest.status == "failed" and manifest.error.code == "missing_payload"


def test_a_payload_declared_bigger_than_the_bound_is_too_large(storage: Storage) -> None:
    manifest = failure(storage, put_array(storage, np.zeros((10, 10), np.uint8)), Limits(max_payload_bytes=64))
    assert manifest.error.code == "too_large"
    assert "DARKROOM_MAX_PAYLOAD_BYTES" in manifest.error.message


def test_a_payload_bigger_than_declared_and_than_the_bound_is_too_large(storage: Storage) -> None:
    source = put_array(storage, np.zeros((10, 10), np.uint8))
    source["bytes"] = 10
    manifest = failure(storage, source, Limits(max_payload_bytes=64))
    assert manifest.error.code == "too_large"


def test_an_unknown_option_fails_every_item_as_invalid_options(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    manifests = process(storage, request(item(0, source), item(1, source), options={"qualty": 80}))
    assert [m.status for m in manifests] == ["failed", "failed"]
    for index in (0, 1):
        error = stored_manifest(storage, index).error
        assert error.code == "invalid_options" and "qualty" in error.message


def test_a_kind_without_a_converter_fails_every_item_as_unsupported_kind(storage: Storage, monkeypatch) -> None:
    from darkroom.workers import converters

    monkeypatch.delitem(converters._MODULES, "molecule")  # every kind has a converter: a worker built without one
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    [manifest] = process(storage, request(item(0, source), kind="molecule"))
    stored = stored_manifest(storage, 0)
    assert manifest.status == stored.status == "failed"
    assert stored.error.code == "unsupported_kind" and stored.kind == "molecule"


def test_more_items_than_the_bound_fail_as_too_many_items(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    manifests = process(storage, request(*(item(i, source) for i in range(3))), Limits(max_items_per_key=2))
    assert [m.status for m in manifests] == ["failed"] * 3
    for index in range(3):
        error = stored_manifest(storage, index).error
        assert error.code == "too_many_items"
        assert "3 items" in error.message and "DARKROOM_MAX_ITEMS_PER_KEY" in error.message
    assert not any(k.startswith("media/") for k in storage.list(""))


def test_more_than_100_audio_clips_under_one_key_fail_each_as_too_many_items(storage: Storage) -> None:
    source = put_array(storage, np.zeros(800, np.float32))
    manifests = process(storage, request(*(item(i, source) for i in range(101)), kind="audio",
                                         options={"sample_rate": 8000}))
    assert [m.status for m in manifests] == ["failed"] * 101
    error = stored_manifest(storage, 100).error
    assert error.code == "too_many_items" and "at most 100 per key per step" in error.message
    assert not any(k.startswith("media/") for k in storage.list(""))


def test_items_up_to_the_bound_are_converted(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    manifests = process(storage, request(*(item(i, source) for i in range(2))), Limits(max_items_per_key=2))
    assert [m.status for m in manifests] == ["ok", "ok"]


def test_an_invalid_mask_fails_the_item_as_invalid_mask(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    [manifest] = process(storage, request(item(0, source, related={"mask:m": put_array(storage, np.zeros((2, 2)))})))
    assert manifest.status == "failed" and manifest.error.code == "invalid_mask"
    assert stored_manifest(storage, 0).error.code == "invalid_mask"


# -- messages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [None, 42, "", "not json", b"\xff\xfe\x00", "[]", "{}", {"schema": "darkroom.convert/2"},
     {"schema": "darkroom.convert/1"}, {"schema": "darkroom.convert/1", "project": "../x", "run": "r", "step": 0,
                                        "key": "k", "kind": "image", "items": []},
     "x" * 1_000_001, ["schema", "darkroom.convert/1"]],
    ids=["none", "int", "empty", "text", "bytes", "list", "empty-object", "other-schema", "no-fields",
         "bad-project", "huge", "list-object"],
)
def test_a_malformed_message_returns_no_manifests_and_does_not_raise(storage: Storage, garbage: object) -> None:
    assert process_message(garbage, WorkerContext(storage, Limits())) == []
    assert list(storage.list("")) == []


def test_a_message_with_a_bad_item_field_fails_that_item_and_converts_the_others(storage: Storage) -> None:
    # Before issue 16 (item 5) the whole message was rejected and both items vanished without a manifest.
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    bad = dict(source, sha256="not-a-digest")
    manifests = process_message(request(item(0, source), item(1, bad)), WorkerContext(storage, Limits()))
    assert [(m.index, m.status) for m in manifests] == [(0, "ok"), (1, "failed")]
    assert stored_manifest(storage, 0).status == "ok"
    failed = stored_manifest(storage, 1)
    assert failed.error is not None and failed.error.code == "malformed_message"
    assert failed.error.message.startswith(
        "malformed convert request, so this item was not converted: source.sha256: String should match pattern")


def test_a_message_as_json_text_is_processed_like_the_dict(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    [manifest] = process_message(json.dumps(request(item(0, source))), WorkerContext(storage, Limits()))
    assert manifest.status == "ok"
    assert stored_manifest(storage, 0).status == "ok"


# -- issue 16, item 5: what the message model refuses still leaves a manifest per item ------------------------


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("bad", [
    {"caption": "x" * 10_001},
    {"related": {f"mask:m{i}": None for i in range(65)}},  # sources filled in below
    {"caption": "cat \ud800"},
    {"extra": {"boxes": {"p": {"box_data": [], "meta": nested(500)}}}},
    {"extra": {"boxes": {"p": {"box_data": [], "meta": nested(350)}}}},
], ids=["caption-10001", "65-masks", "caption-lone-surrogate", "meta-500-deep", "meta-350-deep"])
@pytest.mark.parametrize("form", ["dict", "json-text"])
def test_a_request_the_worker_refuses_still_gets_a_failed_manifest_for_every_item_it_names(
        storage: Storage, bad: dict[str, Any], form: str) -> None:
    sources = [put_array(storage, np.full((2, 2), i, np.uint8)) for i in range(4)]
    if "related" in bad:
        bad = {"related": {role: sources[0] for role in bad["related"]}}
    items = [item(i, src) for i, src in enumerate(sources)]
    items[2] = {**items[2], **bad}
    message = request(*items)
    manifests = process_message(message if form == "dict" else json.dumps(message), WorkerContext(storage, Limits()))
    assert [(m.index, m.status) for m in manifests] == [(0, "ok"), (1, "ok"), (2, "failed"), (3, "ok")]
    failed = stored_manifest(storage, 2)
    assert failed.error is not None and failed.error.code == "malformed_message"
    assert "at most" in failed.error.message or "lone surrogate" in failed.error.message
    assert [stored_manifest(storage, i).status for i in (0, 1, 3)] == ["ok"] * 3
    # The run's index names all four, so readers list them.
    assert process_message(message, WorkerContext(storage, Limits()))  # redelivered: the same manifests again, no error


def test_a_request_whose_every_item_is_refused_gets_a_failed_manifest_for_each(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    message = request(*[item(i, source, caption="x" * 10_001) for i in range(4)])
    manifests = process_message(message, WorkerContext(storage, Limits()))
    assert [(m.index, m.status) for m in manifests] == [(i, "failed") for i in range(4)]
    assert stored_manifest(storage, 3).error.message == (  # type: ignore[union-attr]
        "malformed convert request, so this item was not converted: item: caption of 10001 characters; "
        "at most 10000 are accepted (a fixed bound of the convert message)")


def test_a_bad_request_field_fails_every_item_with_that_field_named(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    message = request(item(0, source), item(1, source), options={"deep": nested(100)})
    manifests = process_message(message, WorkerContext(storage, Limits()))
    assert [(m.index, m.status) for m in manifests] == [(0, "failed"), (1, "failed")]
    assert "options: options nests deeper than 16 levels" in manifests[0].error.message  # type: ignore[union-attr]


def test_a_key_that_no_storage_path_can_hold_is_rejected_without_raising(storage: Storage) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    for message in (request(item(0, source), key="val/\ud800"), json.dumps(request(item(0, source), key="k\udfff"))):
        assert process_message(message, WorkerContext(storage, Limits())) == []
    assert not any(k.startswith("runs/") for k in storage.list(""))


def test_a_message_nested_near_the_interpreter_limit_fails_its_items_without_raising(storage: Storage) -> None:
    text = json.dumps(request(item(0, put_array(storage, np.zeros((2, 2), np.uint8)))))
    deep = text[:-1] + ', "extra_field": ' + "[" * 900 + "]" * 900 + "}"
    for message in (deep, json.loads(deep)):
        [manifest] = process_message(message, WorkerContext(storage, Limits()))
        assert manifest.status == "failed" and manifest.error is not None
        assert "extra_field: Extra inputs are not permitted" in manifest.error.message
