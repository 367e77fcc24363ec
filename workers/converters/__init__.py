"""The converter contract and the table of converters, one per media kind.

A converter is a pure function (STYLE.md, rule 4): raw payload bytes and typed
options in, artifact bytes, measurements and warnings out.  It touches no
storage, Celery, settings or clock, so it is testable alone and reusable by
reprocessing.  A new kind is one module here plus its row in `darkroom.pipeline.kinds`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from darkroom.pipeline import kinds
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits


@dataclasses.dataclass(frozen=True)
class Payload:
    """A raw payload as stored: its bytes and what the sender said it is."""

    data: bytes
    media_type: str
    ext: str


@dataclasses.dataclass(frozen=True)
class ItemInput:
    """One item to convert: its main payload, its other payloads by role, its extra data."""

    payload: Payload
    related: Mapping[str, Payload] = dataclasses.field(default_factory=dict)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class RelatedOutput:
    """Another file of the item (a mask, a depiction), stored beside the artifact."""

    role: str
    data: bytes
    format: str
    media_type: str
    info: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Output:
    """What a converter returns for one item."""

    data: bytes
    format: str
    media_type: str
    measurements: dict[str, Any]
    warnings: list[str] = dataclasses.field(default_factory=list)
    related: list[RelatedOutput] = dataclasses.field(default_factory=list)
    # Fields the manifest carries at top level (e.g. normalised ``boxes``).
    manifest_fields: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Converter:
    """A converter's name, version, options model and function."""

    name: str
    version: str
    options_model: type[BaseModel]
    convert: Callable[[ItemInput, Any, Limits], Output]

    def parse_options(self, options: Mapping[str, Any]) -> BaseModel:
        """Validate a request's options with this converter's model.

        Raises
        ------
        InvalidInput (``invalid_options``): names the option and what is accepted.
        """
        from pydantic import ValidationError

        try:
            return self.options_model.model_validate(dict(options))
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}" for err in e.errors()
            )
            raise InvalidInput("invalid_options", f"{self.name} options: {problems}") from None


# kind -> module defining CONVERTER, from the table of kinds.  Loaded when
# first used, so a worker without a kind's codec still starts and serves the
# other kinds.
_MODULES = {spec.name: spec.converter for spec in kinds.TABLE}


def converter_for(kind: str) -> Converter:
    """The converter of `kind`.

    Raises
    ------
    InvalidInput (``unsupported_kind``): no converter for this kind in this worker.
    """
    module = _MODULES.get(kind)
    if module is None:
        raise InvalidInput(
            "unsupported_kind",
            f"no converter for kind {kind!r} in this worker; available: {', '.join(sorted(_MODULES))}",
        )
    return importlib.import_module(module).CONVERTER
