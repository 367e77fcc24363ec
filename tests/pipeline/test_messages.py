"""Tests of darkroom.pipeline.messages: the ConvertRequest model and its single decoder."""

from __future__ import annotations

import copy
import json
from typing import Any

import pydantic
import pytest

from darkroom.pipeline.errors import InvalidInput, MessageDecodeError
from darkroom.pipeline.messages import (
    KINDS,
    MAX_MESSAGE_CHARS,
    REQUEST_SCHEMA,
    ConvertRequest,
    decode_request,
)

SHA = "0123456789abcdef" * 4


def valid_message() -> dict[str, Any]:
    return {
        "schema": REQUEST_SCHEMA,
        "project": "demo",
        "run": "3k2j9x",
        "step": 12,
        "key": "val/examples",
        "kind": "image",
        "items": [
            {
                "index": 0,
                "source": {
                    "uri": f"s3://bucket/pre/raw/{SHA}.npy",
                    "sha256": SHA,
                    "bytes": 786432,
                    "media_type": "application/x-npy",
                    "ext": "npy",
                },
                "caption": "sample 0",
                "related": {
                    "mask:predictions": {
                        "uri": f"s3://bucket/pre/raw/{SHA}.npy",
                        "sha256": SHA,
                        "bytes": 10,
                        "media_type": "application/x-npy",
                        "ext": "npy",
                    }
                },
                "extra": {"boxes": {"predictions": {"box_data": []}}},
            }
        ],
        "options": {"file_type": "png"},
    }


def test_a_valid_dict_decodes_into_a_typed_request() -> None:
    request = decode_request(valid_message())
    assert isinstance(request, ConvertRequest)
    assert (request.project, request.run, request.step, request.key) == ("demo", "3k2j9x", 12, "val/examples")
    assert request.kind == "image"
    assert request.revision == 1
    assert request.batch is None
    item = request.items[0]
    assert item.source.sha256 == SHA
    assert item.caption == "sample 0"
    assert item.related["mask:predictions"].bytes == 10
    assert item.extra == {"boxes": {"predictions": {"box_data": []}}}


def test_json_text_and_bytes_decode_the_same_as_the_dict() -> None:
    text = json.dumps(valid_message())
    assert decode_request(text) == decode_request(valid_message())
    assert decode_request(text.encode()) == decode_request(valid_message())


def test_to_json_round_trips_through_the_decoder_with_the_schema_name() -> None:
    request = decode_request(valid_message())
    sent = request.to_json()
    assert sent["schema"] == REQUEST_SCHEMA
    assert "schema_" not in sent
    assert decode_request(json.dumps(sent)) == request


def test_a_request_is_immutable() -> None:
    request = decode_request(valid_message())
    with pytest.raises(pydantic.ValidationError):
        request.step = 13  # type: ignore[misc]


@pytest.mark.parametrize("kind", KINDS)
def test_every_documented_kind_is_accepted(kind: str) -> None:
    message = valid_message()
    message["kind"] = kind
    assert decode_request(message).kind == kind


def test_text_that_is_not_json_is_a_decode_error_keeping_the_raw_text() -> None:
    raw = '{"schema": "darkroom.convert/1", oops'
    with pytest.raises(MessageDecodeError) as info:
        decode_request(raw)
    error = info.value
    assert error.raw == raw
    assert error.code == "malformed_message"
    assert isinstance(error.__cause__, json.JSONDecodeError)
    assert error.message.startswith("malformed convert request (")
    assert error.message.endswith(raw)


@pytest.mark.parametrize("raw", ["[1, 2]", "42", "null", '"text"'])
def test_json_that_is_not_an_object_is_a_decode_error_naming_what_arrived(raw: str) -> None:
    with pytest.raises(MessageDecodeError, match="expected a JSON object, got") as info:
        decode_request(raw)
    assert info.value.raw == raw


def test_a_python_object_that_is_not_a_dict_is_a_decode_error() -> None:
    with pytest.raises(MessageDecodeError, match="expected a JSON object, got list") as info:
        decode_request([valid_message()])
    assert info.value.raw == [valid_message()]


@pytest.mark.parametrize("schema", [None, "darkroom.convert/2", "darkroom.manifest/1"])
def test_a_wrong_schema_is_a_decode_error_naming_both_schemas_and_keeping_the_raw_text(schema: object) -> None:
    message = valid_message()
    if schema is None:
        del message["schema"]
    else:
        message["schema"] = schema
    raw = json.dumps(message)
    with pytest.raises(MessageDecodeError) as info:
        decode_request(raw)
    assert f"schema {schema!r} is not 'darkroom.convert/1'" in info.value.message
    assert info.value.raw == raw


def _mutated(path: list[Any], value: Any) -> dict[str, Any]:
    message = copy.deepcopy(valid_message())
    target: Any = message
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return message


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["items", 0, "source", "sha256"], "A" * 64, "sha256"),
        (["items", 0, "source", "sha256"], "abc", "sha256"),
        (["step"], -1, "step"),
        (["kind"], "gif", "kind"),
        (["project"], "../etc", "project"),
        (["project"], "my project", "project"),
        (["run"], ".hidden", "run"),
        (["key"], "val\x00", "key"),
        (["key"], "", "key"),
        (["items"], [], "items"),
        (["items", 0, "index"], -1, "index"),
        (["items", 0, "source", "ext"], "../npy", "ext"),
        (["revision"], 0, "revision"),
        (["surprise"], 1, "surprise"),
    ],
)
def test_an_invalid_field_is_a_decode_error_naming_the_field_and_keeping_the_raw_text(
    path: list[Any], value: Any, field: str
) -> None:
    raw = json.dumps(_mutated(path, value))
    with pytest.raises(MessageDecodeError) as info:
        decode_request(raw)
    error = info.value
    assert isinstance(error, InvalidInput)
    assert error.code == "malformed_message"
    assert error.raw == raw
    assert isinstance(error.__cause__, pydantic.ValidationError)
    assert field in str(error)


def test_a_bad_project_name_says_what_names_are_accepted() -> None:
    with pytest.raises(MessageDecodeError) as info:
        decode_request(_mutated(["project"], "my project"))
    assert "project name 'my project' is not accepted; use 1-128 letters, digits" in info.value.message


def test_an_oversized_text_is_refused_before_parsing_and_the_shown_text_is_cut() -> None:
    raw = "x" * (MAX_MESSAGE_CHARS + 1)
    with pytest.raises(MessageDecodeError) as info:
        decode_request(raw)
    error = info.value
    assert error.raw is raw
    assert isinstance(error.__cause__, ValueError)
    assert f"message of {MAX_MESSAGE_CHARS + 1} characters; at most {MAX_MESSAGE_CHARS}" in error.message
    assert error.message.endswith("x" * 300 + "...")
    assert len(error.message) < 500
