"""Tests of darkroom.pipeline.manifest: the Manifest v1 model as written and as read."""

from __future__ import annotations

import json
import re

import pydantic
import pytest

from darkroom.pipeline.manifest import MANIFEST_SCHEMA, Manifest
from darkroom.pipeline.timestamps import now_iso

SHA = "f" * 64


def ok_manifest(**changes: object) -> Manifest:
    fields: dict[str, object] = dict(
        project="demo", run="3k2j9x", step=12, key="val/examples", index=0, kind="image", status="ok",
        caption="sample 0",
        source={"uri": "s3://b/raw/x.npy", "sha256": SHA, "bytes": 786432, "media_type": "application/x-npy"},
        artifact={"uri": "s3://b/media/image/x.png", "sha256": SHA, "bytes": 9123, "format": "png",
                  "media_type": "image/png", "width": 512, "height": 256, "mode": "RGB"},
        related=[{"role": "mask:predictions", "uri": "s3://b/media/image/m.png", "sha256": SHA, "format": "png"}],
        converter={"name": "image", "version": "1", "options": {"file_type": "png"}},
    )
    fields.update(changes)
    return Manifest.model_validate(fields)


def test_a_manifest_serialises_with_the_names_readers_rely_on() -> None:
    data = json.loads(ok_manifest().to_json_bytes())
    assert data["schema"] == MANIFEST_SCHEMA == "darkroom.manifest/1"
    assert "schema_" not in data
    for name in ("project", "run", "step", "key", "index", "kind", "revision", "status", "error",
                 "warnings", "caption", "source", "artifact", "related", "boxes", "converter", "created_at"):
        assert name in data
    assert data["revision"] == 1
    assert data["error"] is None
    assert data["warnings"] == []


def test_kind_specific_measurements_ride_along_on_the_artifact() -> None:
    data = json.loads(ok_manifest().to_json_bytes())
    assert (data["artifact"]["width"], data["artifact"]["height"], data["artifact"]["mode"]) == (512, 256, "RGB")


def test_a_manifest_round_trips_through_json_bytes() -> None:
    manifest = ok_manifest(warnings=["clipped 3 values to 0..255"], revision=2, batch="b1")
    again = Manifest.from_json_bytes(manifest.to_json_bytes())
    assert again == manifest
    assert again.artifact is not None and again.artifact.model_extra == {"width": 512, "height": 256, "mode": "RGB"}


def test_a_failed_manifest_carries_its_error_and_no_artifact() -> None:
    failed = ok_manifest(status="failed", artifact=None, related=[],
                         error={"code": "invalid_shape", "message": "image array of shape (5,)"})
    data = json.loads(failed.to_json_bytes())
    assert data["status"] == "failed"
    assert data["artifact"] is None
    assert data["error"] == {"code": "invalid_shape", "message": "image array of shape (5,)"}


def test_a_reader_accepts_fields_that_a_newer_writer_added() -> None:
    data = json.loads(ok_manifest().to_json_bytes())
    data["viewer_hint"] = {"zoom": 2}
    manifest = Manifest.from_json_bytes(json.dumps(data).encode())
    assert manifest.model_extra == {"viewer_hint": {"zoom": 2}}


@pytest.mark.parametrize(
    ("change", "field"),
    [({"status": "pending"}, "status"), ({"kind": "gif"}, "kind"), ({"step": "twelve"}, "step")],
)
def test_a_manifest_with_an_unknown_status_kind_or_bad_type_is_refused(change: dict, field: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        ok_manifest(**change)


def test_a_manifest_of_another_schema_is_refused_when_read() -> None:
    data = json.loads(ok_manifest().to_json_bytes())
    data["schema"] = "darkroom.manifest/2"
    with pytest.raises(pydantic.ValidationError, match="schema"):
        Manifest.from_json_bytes(json.dumps(data).encode())


def test_created_at_is_an_utc_timestamp() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", now_iso())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", ok_manifest().created_at)


def test_a_failed_manifest_names_the_item_and_the_error_and_nothing_converted() -> None:
    from darkroom.pipeline.errors import InvalidInput
    from darkroom.pipeline.manifest import failed_manifest

    manifest = failed_manifest("demo", "3k2j9x", 12, "val/examples", 2, "image",
                               InvalidInput("too_large", "payload of 9 bytes exceeds the bound of 8"),
                               caption="sample 2", revision=3)
    data = json.loads(manifest.to_json_bytes())
    assert (data["project"], data["run"], data["step"], data["key"], data["index"], data["kind"]) == (
        "demo", "3k2j9x", 12, "val/examples", 2, "image")
    assert data["status"] == "failed" and data["revision"] == 3 and data["caption"] == "sample 2"
    assert data["error"] == {"code": "too_large", "message": "payload of 9 bytes exceeds the bound of 8"}
    assert data["artifact"] is None and data["source"] is None and data["input"] is None
    assert data["converter"] == {"name": "image", "version": "-", "options": {}}
    assert Manifest.from_json_bytes(manifest.to_json_bytes()) == manifest
