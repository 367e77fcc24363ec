"""Bounding boxes of an image: validated against its size, stored as fractions.

Accepted (MEDIA_TYPES.md, Image/Boxes): ``{group: {"box_data": [box, ...],
"class_labels": {int: str}}}``, a box's ``position`` as ``{minX, maxX, minY, maxY}``
or ``{middle: [x, y], width, height}``, ``domain: "pixel"`` or fractions.
"""

from __future__ import annotations

import math
from typing import Any

from darkroom.pipeline.errors import InvalidInput

def normalise_box_groups(groups: Any, width: int, height: int, warnings: list[str],
                         max_boxes: int) -> dict[str, Any]:
    """Return the groups with every box in fractions, min/max form, clipped to the image.

    `max_boxes`: the most boxes a group may hold (`Limits.max_boxes`, DARKROOM_MAX_BOXES).

    Raises
    ------
    InvalidInput (``invalid_boxes``): a malformed group or box, or a box entirely
        outside the image; the message names the group and the box's index.
    """
    if not isinstance(groups, dict):
        raise _error(f"boxes must be a dict {{group: {{'box_data': [...]}}}}; got {type(groups).__name__}")
    out: dict[str, Any] = {}
    for group, spec in groups.items():
        where = f"boxes[{group!r}]"
        if not isinstance(spec, dict) or not isinstance(spec.get("box_data"), list):
            raise _error(f"{where} needs 'box_data': a list of boxes")
        if len(spec["box_data"]) > max_boxes:
            raise _error(f"{where} has {len(spec['box_data'])} boxes; at most {max_boxes} (DARKROOM_MAX_BOXES)")
        labels = _labels(spec.get("class_labels"), where)
        boxes = []
        for i, box in enumerate(spec["box_data"]):
            boxes.append(_box(box, f"{where}.box_data[{i}]", width, height, warnings))
        for box in boxes:
            labels.setdefault(str(box["class_id"]), f"class_{box['class_id']}")
        out[str(group)] = {"box_data": boxes, "class_labels": labels}
    return out


def _box(box: Any, where: str, width: int, height: int, warnings: list[str]) -> dict[str, Any]:
    if not isinstance(box, dict):
        raise _error(f"{where} must be a dict with 'position' and 'class_id'")
    position = box.get("position")
    if not isinstance(position, dict):
        raise _error(f"{where} has no 'position'; accepted: {{minX, maxX, minY, maxY}} or {{middle: [x, y], width, height}}")
    pixel = box.get("domain") == "pixel"
    if box.get("domain") not in (None, "pixel"):
        raise _error(f"{where} domain {box.get('domain')!r}; accepted: 'pixel' or omitted (fractions)")
    if "middle" in position:
        middle = position["middle"]
        if not (isinstance(middle, (list, tuple)) and len(middle) == 2):
            raise _error(f"{where} position.middle must be [x, y]")
        x, y = _number(middle[0], f"{where} middle x"), _number(middle[1], f"{where} middle y")
        w, h = _number(position.get("width"), f"{where} width"), _number(position.get("height"), f"{where} height")
        if w < 0 or h < 0:
            raise _error(f"{where} width/height must not be negative; got {w}, {h}")
        min_x, max_x, min_y, max_y = x - w / 2, x + w / 2, y - h / 2, y + h / 2
    else:
        min_x = _number(position.get("minX"), f"{where} minX")
        max_x = _number(position.get("maxX"), f"{where} maxX")
        min_y = _number(position.get("minY"), f"{where} minY")
        max_y = _number(position.get("maxY"), f"{where} maxY")
        if min_x > max_x or min_y > max_y:
            raise _error(f"{where} has min > max (x {min_x}..{max_x}, y {min_y}..{max_y})")
    if pixel:
        min_x, max_x, min_y, max_y = min_x / width, max_x / width, min_y / height, max_y / height
    if max_x <= 0 or min_x >= 1 or max_y <= 0 or min_y >= 1:
        raise _error(
            f"{where} lies entirely outside the image ({width}x{height}); "
            "positions are fractions 0..1 unless domain='pixel'"
        )
    clipped = [min(max(v, 0.0), 1.0) for v in (min_x, max_x, min_y, max_y)]
    if clipped != [min_x, max_x, min_y, max_y]:
        warnings.append(f"{where} was partly outside the image and is clipped to it")
    class_id = box.get("class_id")
    if not isinstance(class_id, int) or isinstance(class_id, bool):
        raise _error(f"{where} class_id {class_id!r} is not an int")
    out: dict[str, Any] = {
        "position": dict(zip(("minX", "maxX", "minY", "maxY"), clipped)),
        "class_id": class_id,
    }
    if box.get("box_caption") is not None:
        if not isinstance(box["box_caption"], str):
            raise _error(f"{where} box_caption must be a str")
        out["box_caption"] = box["box_caption"]
    if box.get("scores") is not None:
        scores = box["scores"]
        if not isinstance(scores, dict):
            raise _error(f"{where} scores must be a dict {{name: number}}")
        out["scores"] = {str(k): _number(v, f"{where} score {k!r}") for k, v in scores.items()}
    return out


def _labels(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _error(f"{where} class_labels must be a dict {{int: str}}")
    labels = {}
    for k, v in raw.items():
        try:
            labels[str(int(k))] = str(v)
        except (TypeError, ValueError):
            raise _error(f"{where} class_labels key {k!r} is not an integer") from None
    return labels


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _error(f"{where} is {value!r}; accepted: a number")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer beyond float range (math.isfinite raises too)
        raise _error(f"{where} is an integer too large for a float; accepted: a finite number") from None
    if not math.isfinite(number):
        raise _error(f"{where} is {value}; accepted: a finite number")
    return number


def _error(message: str) -> InvalidInput:
    return InvalidInput("invalid_boxes", message)
