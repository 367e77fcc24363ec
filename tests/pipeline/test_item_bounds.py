"""Tests of darkroom.pipeline.item_bounds: one item's bounds, the same at log() and in the convert message."""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import pytest

from darkroom.pipeline.errors import InvalidInput, MessageDecodeError
from darkroom.pipeline.item_bounds import (
    MAX_CAPTION_CHARS,
    MAX_EXTRA_CHARS,
    MAX_EXTRA_DEPTH,
    MAX_RELATED,
    check_item,
    check_json,
)
from darkroom.pipeline.messages import decode_request

SHA = "0123456789abcdef" * 4
SOURCE = {"uri": f"s3://bucket/pre/raw/{SHA}.npy", "sha256": SHA, "bytes": 10,
          "media_type": "application/x-npy", "ext": "npy"}


def nested(depth: int) -> Any:
    """A list `depth` levels deep (the innermost list counts as one)."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def masks(count: int) -> list[str]:
    return [f"mask:m{i}" for i in range(count)]


def message(key: str = "val/examples", caption: str | None = None, related: tuple[str, ...] | list[str] = (),
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    item = {"index": 0, "source": SOURCE, "caption": caption,
            "related": {role: SOURCE for role in related}, "extra": extra or {}}
    return {"schema": "darkroom.convert/1", "project": "demo", "run": "r1", "step": 0, "key": key,
            "kind": "image", "items": [item]}


def refused_on_both_sides(**item: Any) -> str:
    """The text check_item (the SDK, at log()) raises; the worker's decoder must refuse the same item."""
    with pytest.raises(InvalidInput) as at_log:
        check_item(item.get("key", "val/examples"), item.get("caption"), item.get("related", ()), item.get("extra"))
    with pytest.raises(MessageDecodeError) as at_worker:
        decode_request(message(**item))
    assert at_log.value.message in at_worker.value.message or "at most" in at_worker.value.message
    return at_log.value.message


WORKER_REFUSES = {
    "a caption of 10,001 characters": dict(caption="x" * (MAX_CAPTION_CHARS + 1)),
    "65 masks": dict(related=masks(MAX_RELATED + 1)),
    "a mask name with a lone surrogate": dict(related=["mask:\ud83d"]),
    "a caption with a lone surrogate": dict(caption="cat \ud800"),
    "a key with a lone surrogate": dict(key="val/\udc00"),
    "box metadata nested 500 deep": dict(extra={"boxes": {"p": {"box_data": [], "meta": nested(500)}}}),
    "box metadata nested one level too deep": dict(extra={"boxes": nested(MAX_EXTRA_DEPTH)}),
    "a box caption with a lone surrogate": dict(extra={"boxes": {"p": {"box_data": [{"box_caption": "\udfff"}]}}}),
    "extra data over the size bound": dict(extra={"boxes": ["x" * 1000] * (MAX_EXTRA_CHARS // 1000)}),
}


@pytest.mark.parametrize("item", list(WORKER_REFUSES.values()), ids=list(WORKER_REFUSES))
def test_what_the_worker_would_refuse_is_refused_by_the_function_the_sdk_calls_at_log(item: dict[str, Any]) -> None:
    refused_on_both_sides(**item)


def test_an_item_at_every_bound_is_accepted_on_both_sides() -> None:
    item = dict(key="val/\u00e9t\u00e9 \U0001f600", caption="\U0001f600" * MAX_CAPTION_CHARS, related=masks(MAX_RELATED),
                extra={"boxes": nested(MAX_EXTRA_DEPTH - 1), "masks": {"m": {"class_labels": {"1": "car"}}}})
    check_item(item["key"], item["caption"], item["related"], item["extra"])
    request = decode_request(message(**item))
    assert request.items[0].caption == item["caption"] and len(request.items[0].related) == MAX_RELATED


def test_each_refusal_names_the_value_and_the_bound() -> None:
    assert refused_on_both_sides(caption="x" * 10_001) == (
        "caption of 10001 characters; at most 10000 are accepted (a fixed bound of the convert message)")
    assert refused_on_both_sides(related=masks(65)) == (
        "65 related payloads (masks) in one item; at most 64 are accepted (a fixed bound of the convert message)")
    assert refused_on_both_sides(extra={"boxes": {"p": {"meta": nested(500)}}}) == (
        "extra data nests deeper than 16 levels (at ['boxes']['p']['meta'][0][0][0][0][0]...); at most 16 are "
        "accepted (a fixed bound of the convert message)")
    assert refused_on_both_sides(key="k\ud800") == (
        "log key 'k\\ud800' has a lone surrogate ('\\ud800' at 1), which no UTF-8 text can hold; "
        "accepted: text that encodes as UTF-8")


def test_the_codes_say_what_kind_of_bound_was_passed() -> None:
    codes = {}
    for name, item in WORKER_REFUSES.items():
        with pytest.raises(InvalidInput) as caught:
            check_item(item.get("key", "k"), item.get("caption"), item.get("related", ()), item.get("extra"))
        codes[name] = caught.value.code
    assert codes == {
        "a caption of 10,001 characters": "invalid_caption", "65 masks": "too_large",
        "a mask name with a lone surrogate": "invalid_related",
        "a caption with a lone surrogate": "invalid_caption", "a key with a lone surrogate": "invalid_key",
        "box metadata nested 500 deep": "too_deep", "box metadata nested one level too deep": "too_deep",
        "a box caption with a lone surrogate": "invalid_text", "extra data over the size bound": "too_large",
    }


def test_the_key_rules_of_the_storage_layout_still_apply() -> None:
    with pytest.raises(InvalidInput, match="control character"):
        check_item("a\nb")


def test_a_value_nested_100000_deep_is_refused_without_recursion() -> None:
    extra = {"boxes": nested(100_000)}
    # Held to 50 frames above this one: a check that recursed into the value would raise RecursionError.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(traceback.extract_stack()) + 50)
    try:
        with pytest.raises(InvalidInput, match="nests deeper than 16"):
            check_item("k", extra=extra)
    finally:
        sys.setrecursionlimit(limit)


def test_a_value_over_the_size_bound_is_refused_naming_its_size() -> None:
    big = {"rows": [[1.5] * 1000] * 1000}  # 1M numbers, 4M characters as JSON
    with pytest.raises(InvalidInput, match="of 4002010 characters as JSON; at most 2000000 are accepted"):
        check_json("extra data", big, MAX_EXTRA_DEPTH, MAX_EXTRA_CHARS)


def test_the_size_is_counted_as_compact_json() -> None:
    value = {"boxes": {"p": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.25}, "class_id": 12345,
                                             "box_caption": "caf\u00e9", "scores": {"acc": 0.9}, "x": None}] * 50}}}
    exact = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    check_json("v", value, MAX_EXTRA_DEPTH, exact)
    with pytest.raises(InvalidInput, match=f"v of {exact} characters as JSON; at most {exact - 1} are accepted"):
        check_json("v", value, MAX_EXTRA_DEPTH, exact - 1)


def test_values_json_cannot_hold_are_refused_naming_where() -> None:
    with pytest.raises(InvalidInput, match=r"extra data is not JSON \(Object of type set is not JSON serializable\); accepted: JSON values"):
        check_item("k", extra={"boxes": [{1, 2}]})


def test_request_options_are_bounded_like_extra_data() -> None:
    data = message()
    data["options"] = {"a": nested(100)}
    with pytest.raises(MessageDecodeError, match="options nests deeper than 16"):
        decode_request(data)


def test_brackets_and_quotes_inside_strings_do_not_count_as_nesting() -> None:
    tricky = {"caption": "[" * 40 + '\\"{' * 40, "k[{": ['"]}', "\\", "{{{{{{{{{{{{{{{{{{{{{{{{"]}
    check_json("extra data", {"boxes": [tricky, nested(MAX_EXTRA_DEPTH - 2)]}, MAX_EXTRA_DEPTH, MAX_EXTRA_CHARS)
    with pytest.raises(InvalidInput, match="nests deeper than 16 levels"):
        check_json("extra data", {"boxes": [tricky, nested(MAX_EXTRA_DEPTH - 1)]}, MAX_EXTRA_DEPTH, MAX_EXTRA_CHARS)


FLAT_SAMPLES = [
    {"file_type": "png", "normalize": True, "mode": None},
    {"fps": 4.0, "format": "gif", "n": 2 ** 63 - 1},
    {"k" * 1000: "\x01" * 1000},  # the longest text, each character escaped as \u0001
    {f"k{i}": "v" * 1000 for i in range(64)},
    {"big": 2 ** 63},  # past the flat bound: encoded
    {"many": 10 ** 5000},  # no JSON text for it
    {"odd": "\udc80"},
    {"\ud800": 1},
    {"nested": {"a": 1}},
    {f"k{i}": 1 for i in range(65)},
    {"t": "x" * 1001},
    {"s": {1, 2}},
    [1, 2],
]


@pytest.mark.parametrize("value", FLAT_SAMPLES, ids=range(len(FLAT_SAMPLES)))
def test_the_flat_options_shortcut_agrees_with_encoding_the_value(value) -> None:
    from darkroom.pipeline import item_bounds

    def outcome(check) -> str | None:
        try:
            check("options", value, MAX_EXTRA_DEPTH, MAX_EXTRA_CHARS)
        except InvalidInput as e:
            return e.code
        return None

    assert outcome(check_json) == outcome(item_bounds._check_encoded)
    if item_bounds._small_flat(value):  # what the shortcut accepts, the encoded check accepts too
        assert outcome(item_bounds._check_encoded) is None
    assert item_bounds._small_flat(value) == (FLAT_SAMPLES.index(value) < 4)
