"""The payload builder: snapshots become spool records with typed requests; one bad value costs only itself."""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
import pytest

import darkroom
from darkroom._payloads import MediaWork, ObjectWork, PayloadBuilder, RowWork
from darkroom.pipeline.messages import decode_request
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import open_storage


@pytest.fixture
def builder(tmp_path):
    return PayloadBuilder("p", "r", open_storage(f"file://{tmp_path}/store"), Limits())


def test_an_image_becomes_one_convert_record_whose_request_the_worker_decodes(builder):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    [record] = builder.build([MediaWork(2, "img", "image", [darkroom.Image(array, caption="c")])])
    request = decode_request(record.entry["request"])
    assert (request.step, request.key, request.kind, request.revision) == (2, "img", "image", 1)
    [item] = request.items
    [(name, data)] = record.payloads.items()
    assert name == f"{item.source.sha256}.npy" and hashlib.sha256(data).hexdigest() == item.source.sha256
    assert np.array_equal(np.load(io.BytesIO(data)), array)
    assert item.caption == "c" and item.source.uri.endswith(f"raw/{item.source.sha256}.npy")
    assert record.entry["payloads"] == [{"name": name, "media_type": "application/x-npy"}]


def test_consecutive_rows_share_one_history_record_and_keep_their_order(builder):
    records = builder.build([RowWork({"_step": 0, "x": 1}), RowWork({"_step": 1, "x": 2}),
                             ObjectWork("runs/p/r/summary.json", b"{}"), RowWork({"_step": 2, "x": 3})])
    assert [r.entry["type"] for r in records] == ["history", "object", "history"]
    assert [row["x"] for row in records[0].entry["rows"]] == [1, 2]
    assert records[2].entry["rows"] == [{"_step": 2, "x": 3}]


def test_a_value_json_cannot_hold_is_dropped_from_its_row_and_said(builder):
    with pytest.warns(darkroom.DarkroomWarning, match=r"key 'bad' at step 3 not logged"):
        [record] = builder.build([RowWork({"_step": 3, "good": 1.5, "bad": {1j}})])
    assert record.entry["rows"] == [{"_step": 3, "good": 1.5}]


def test_items_the_message_model_refuses_become_failed_manifests_and_the_others_are_sent(builder):
    items = [darkroom.Image(np.zeros((2, 2), np.uint8), caption="x" * 10_001),
             darkroom.Image(np.ones((2, 2), np.uint8), caption="fine")]
    records = builder.build([MediaWork(0, "img", "image", items)])
    kinds = [r.entry["type"] for r in records]
    assert kinds == ["object", "object", "convert"]  # the failed manifest, its index entry, the good item
    manifest = records[0].entry
    assert manifest["key"].endswith("/0.json")
    assert '"status":"failed"' in manifest["body"].replace(" ", "")
    assert "caption" in manifest["body"] and "10000" in manifest["body"].replace(",", "").replace("_", "")
    request = decode_request(records[2].entry["request"])
    assert [i.index for i in request.items] == [1]


def test_an_array_over_the_payload_bound_fails_without_being_serialised(tmp_path):
    builder = PayloadBuilder("p", "r", open_storage(f"file://{tmp_path}/s"), Limits(max_payload_bytes=100))
    records = builder.build([MediaWork(0, "big", "image", [darkroom.Image(np.zeros((20, 20), np.uint8))])])
    assert [r.entry["type"] for r in records] == ["object", "object"]
    assert "too_large" in records[0].entry["body"] and "DARKROOM_MAX_PAYLOAD_BYTES" in records[0].entry["body"]


def test_a_bug_in_one_value_costs_that_value_only(builder):
    class Broken(darkroom.Image):
        @property
        def _options(self):
            raise RuntimeError("boom")

        @_options.setter
        def _options(self, value):
            pass

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        records = builder.build([RowWork({"_step": 0, "x": 1}),
                                 MediaWork(0, "broken", "image", [Broken(np.zeros((2, 2), np.uint8))]),
                                 MediaWork(0, "ok", "image", [darkroom.Image(np.zeros((2, 2), np.uint8))])])
    assert [r.entry["type"] for r in records] == ["history", "convert"]
    assert any("'broken' at step 0 not logged: RuntimeError: boom" in str(w.message) for w in said)
