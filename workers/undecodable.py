"""A message the worker cannot decode: its items that decode alone, and a failed manifest for each other item it can place.

A request is refused as a whole by its model when one item passes a bound
(a caption too long, box metadata nested too deep).  Dropping it would lose
every item of it without a word (issue 16, item 5), so the worker reads what
it can: where the items belong (project, run, step, key, kind, revision) and
each item's index.  Items that decode alone are converted as usual; the others
become failed manifests saying what was wrong.  A message that does not say
where its items belong is only logged: there is nowhere to write.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from pydantic import ValidationError

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.item_bounds import check_key
from darkroom.pipeline.kinds import KINDS
from darkroom.pipeline.manifest import Manifest, failed_manifest
from darkroom.pipeline.messages import MAX_MESSAGE_CHARS, ConvertRequest, Item
from darkroom.pipeline.paths import check_name

_MAX_ITEMS = 100_000  # ConvertRequest.items' bound
_MAX_INDEX = 1_000_000  # Item.index's bound
_BATCH = re.compile(r"[A-Za-z0-9_.:-]{1,128}")  # ConvertRequest.batch's pattern
_REASONS_SHOWN = 3


@dataclasses.dataclass(frozen=True)
class Salvaged:
    """What can be done with an undecodable message."""

    # The items that decode alone, under the message's own fields; None when none do.
    request: ConvertRequest | None
    # A failed manifest for every other item the message names and places.
    failed: list[Manifest]


def salvage(raw: object) -> Salvaged:
    """Split an undecodable message into the request its good items make and failed manifests for the rest.

    Never raises: a message that cannot be read at all salvages nothing.
    """
    data = _parsed(raw)
    place = _placement(data) if data is not None else None
    if place is None:
        return Salvaged(None, [])
    raw_items = data.get("items")
    good: list[dict[str, Any]] = []
    failed: list[Manifest] = []
    for raw_item in raw_items[:_MAX_ITEMS] if isinstance(raw_items, list) else []:
        index = raw_item.get("index") if isinstance(raw_item, dict) else None
        if not _is_int(index) or not 0 <= index <= _MAX_INDEX:
            continue
        try:
            Item.model_validate(raw_item)
            good.append(raw_item)
        except ValidationError as e:
            failed.append(_failed(place, index, _reason(e, "item")))
    request = None
    if good:
        try:
            request = ConvertRequest.model_validate({**data, "items": good})
        except ValidationError as e:  # the message's own fields (options, schema, ...)
            failed += [_failed(place, item["index"], _reason(e, "message")) for item in good]
    return Salvaged(request, failed)


def _parsed(raw: object) -> dict[str, Any] | None:
    if isinstance(raw, (str, bytes)):
        if len(raw) > MAX_MESSAGE_CHARS:
            return None
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return None
    return raw if isinstance(raw, dict) else None


def _placement(data: dict[str, Any]) -> dict[str, Any] | None:
    """Where the message's items belong, if every part of it reads as valid; else None."""
    step, revision, batch = data.get("step"), data.get("revision", 1), data.get("batch")
    if not (_is_int(step) and step >= 0 and _is_int(revision) and revision >= 1 and data.get("kind") in KINDS):
        return None
    try:
        check_name("project", data.get("project"))
        check_name("run", data.get("run"))
        check_key(data.get("key"))
    except InvalidInput:
        return None
    return {"project": data["project"], "run": data["run"], "step": step, "key": data["key"],
            "kind": data["kind"], "revision": revision,
            # Only a label (darkroom status counts by it): one that does not read is left out.
            "batch": batch if isinstance(batch, str) and _BATCH.fullmatch(batch) else None}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reason(error: ValidationError, what: str) -> InvalidInput:
    """A ValidationError as one line per field, without the (possibly huge, possibly unencodable) input."""
    parts = []
    for detail in error.errors(include_input=False, include_url=False)[:_REASONS_SHOWN]:
        where = ".".join(str(part) for part in detail["loc"]) or what
        parts.append(f"{where}: {detail['msg'].removeprefix('Value error, ')}")
    more = error.error_count() - len(parts)
    text = "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
    return InvalidInput("malformed_message", f"malformed convert request, so this item was not converted: {text}")


def _failed(place: dict[str, Any], index: int, error: InvalidInput) -> Manifest:
    return failed_manifest(place["project"], place["run"], place["step"], place["key"], index, place["kind"],
                           error, revision=place["revision"], batch=place["batch"])
