"""`ConvertRequest`: the one message on the queue, and its single decoder.

The message is a claim check (DESIGN.md, point 2): it names payloads already in
storage and carries only small JSON.  It is immutable, typed and versioned by
its ``schema`` field.  `decode_request` is the only place a message is parsed;
anything malformed raises `MessageDecodeError` with the raw text and cause.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from darkroom.pipeline import item_bounds
from darkroom.pipeline.errors import InvalidInput, MessageDecodeError
from darkroom.pipeline.kinds import KINDS
from darkroom.pipeline.item_bounds import MAX_CAPTION_CHARS, MAX_EXTRA_CHARS, MAX_EXTRA_DEPTH, MAX_RELATED
from darkroom.pipeline.paths import check_name

REQUEST_SCHEMA = "darkroom.convert/1"
# One value per row of pipeline/kinds.py, in its order (the published schemas' enum).
Kind = Literal[KINDS]  # type: ignore[valid-type]
# A message bigger than this is refused before parsing: the claim check keeps
# real messages to a few KB, so anything near this is not ours.
MAX_MESSAGE_CHARS = 1_000_000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _bounded(check: Any, *args: Any) -> Any:
    """Run an `item_bounds` check as a validator: pydantic turns only ValueError into a ValidationError."""
    try:
        return check(*args)
    except InvalidInput as e:
        raise ValueError(e.message) from None


class Source(_Frozen):
    """A raw payload in storage."""

    uri: str = Field(max_length=2048)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)
    media_type: str = Field(max_length=128)
    ext: str = Field(pattern=r"^[a-z0-9]{1,10}$")


class Item(_Frozen):
    """One logged media value (an element of a list is its own item)."""

    index: int = Field(ge=0, le=1_000_000)
    source: Source
    caption: str | None = Field(default=None, max_length=MAX_CAPTION_CHARS)
    # Other payloads of the item, by role: ``mask:<name>`` -> its raw payload.
    related: dict[str, Source] = Field(default_factory=dict, max_length=MAX_RELATED)
    # Per-item data the converter validates with its own model (boxes, mask labels).
    extra: dict[str, Any] = Field(default_factory=dict)
    # The sender uploaded every payload of this item just now, so no artifact
    # of it can be stored yet: a first delivery may skip the artifact lookup
    # (one storage request per item).  Only a hint: if it is wrong, the cost
    # is one encode that the lookup would have saved, never a wrong result.
    new_payload: bool = False

    @model_validator(mode="before")
    @classmethod
    def _bounds(cls, data: Any) -> Any:
        # The function the SDK calls at log() (pipeline/item_bounds.py), run
        # before pydantic's own checks so that both sides refuse in the same
        # words; a field of the wrong type is left to pydantic.
        if isinstance(data, dict):
            caption, related, extra = data.get("caption"), data.get("related"), data.get("extra")
            _bounded(item_bounds.check_content, caption if isinstance(caption, str) else None,
                     related if isinstance(related, dict) else (), extra if isinstance(extra, dict) else None)
        return data


class ConvertRequest(_Frozen):
    """Convert the items logged under one key at one step (one unit of work)."""

    schema_: Literal["darkroom.convert/1"] = Field(default=REQUEST_SCHEMA, alias="schema")
    project: str
    run: str
    step: int = Field(ge=0)
    key: str
    kind: Kind
    items: list[Item] = Field(min_length=1, max_length=100_000)
    # The converter's options, validated by the converter's own typed model.
    options: dict[str, Any] = Field(default_factory=dict)
    revision: int = Field(default=1, ge=1)
    # The reprocess batch that made this request (`darkroom reprocess`).
    batch: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    # When the request was published (ISO 8601, UTC): `darkroom status` shows
    # the age of the oldest one still waiting.
    sent_at: str | None = Field(default=None, max_length=40)

    @field_validator("project", "run")
    @classmethod
    def _name(cls, value: str, info: Any) -> str:
        # pydantic turns only ValueError into a ValidationError; anything else
        # would escape decode_request as a bare InvalidInput.
        try:
            return check_name(info.field_name, value)
        except InvalidInput as e:
            raise ValueError(e.message) from None

    @field_validator("key", mode="before")  # before the text check every str field gets
    @classmethod
    def _key(cls, value: Any) -> str:
        return _bounded(item_bounds.check_key, value)

    @field_validator("options")
    @classmethod
    def _options(cls, value: dict[str, Any]) -> dict[str, Any]:
        _bounded(item_bounds.check_json, "options", value, MAX_EXTRA_DEPTH, MAX_EXTRA_CHARS)
        return value

    def to_json(self) -> dict[str, Any]:
        """The JSON-safe dict sent on the queue (kombu's JSON knows no models)."""
        return self.model_dump(mode="json", by_alias=True)


def decode_request(raw: object) -> ConvertRequest:
    """Parse a queue message (a dict or JSON text) into a `ConvertRequest`.

    Raises
    ------
    MessageDecodeError: not JSON, too big, wrong schema, or any field invalid.
    """
    try:
        data = raw
        if isinstance(raw, (str, bytes)):
            if len(raw) > MAX_MESSAGE_CHARS:
                raise ValueError(f"message of {len(raw)} characters; at most {MAX_MESSAGE_CHARS}")
            # Parsed into `data` so that the error below keeps the raw text.
            data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        schema = data.get("schema")
        if schema != REQUEST_SCHEMA:
            raise ValueError(f"schema {schema!r} is not {REQUEST_SCHEMA!r}")
        return ConvertRequest.model_validate(data)
    except MessageDecodeError:
        raise
    except (ValueError, TypeError, ValidationError, RecursionError) as e:
        # RecursionError: deeply nested JSON under the size cap.
        raise MessageDecodeError(raw, e) from e
