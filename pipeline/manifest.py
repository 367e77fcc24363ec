"""Manifest v1: one JSON object per logged media item (DESIGN.md, Manifest v1).

Validated where it is written (the worker) and where it is read (the reader),
so readers can rely on its names.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.timestamps import now_iso
from darkroom.pipeline.messages import Kind

MANIFEST_SCHEMA = "darkroom.manifest/1"


class _Open(BaseModel):
    # Readers accept fields a newer writer added; measurements vary by kind.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ErrorInfo(_Open):
    code: str
    message: str


class SourceInfo(_Open):
    uri: str
    sha256: str
    bytes: int
    media_type: str


class ArtifactInfo(_Open):
    """The converted file; kind-specific measurements (width, height, ...) ride as extra fields."""

    uri: str
    sha256: str
    bytes: int
    format: str
    media_type: str


class RelatedInfo(_Open):
    role: str
    uri: str
    sha256: str
    format: str


class ConverterInfo(_Open):
    name: str
    version: str
    options: dict[str, Any] = Field(default_factory=dict)


class Manifest(_Open):
    schema_: Literal["darkroom.manifest/1"] = Field(default=MANIFEST_SCHEMA, alias="schema")
    project: str
    run: str
    step: int
    key: str
    index: int
    kind: Kind
    revision: int = 1
    status: Literal["ok", "failed"]
    error: ErrorInfo | None = None
    warnings: list[str] = Field(default_factory=list)
    caption: str | None = None
    source: SourceInfo | None = None
    artifact: ArtifactInfo | None = None
    related: list[RelatedInfo] = Field(default_factory=list)
    boxes: dict[str, Any] | None = None
    converter: ConverterInfo
    batch: str | None = None
    # What the worker was asked (the item as sent, and the request's options):
    # `darkroom reprocess` rebuilds the request from it.
    input: dict[str, Any] | None = None
    created_at: str = Field(default_factory=lambda: now_iso())

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=1).encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> "Manifest":
        return cls.model_validate_json(data)


def failed_manifest(project: str, run: str, step: int, key: str, index: int, kind: str, error: InvalidInput, *,
                    caption: str | None = None, revision: int = 1, converter: ConverterInfo | None = None,
                    source: SourceInfo | None = None, batch: str | None = None,
                    input: dict[str, Any] | None = None) -> Manifest:
    """The manifest of an item that could not be converted: ``status: "failed"`` and what was wrong.

    Both writers build it here: the worker (invalid input, a crash) and the
    SDK's sender (an item refused before it was sent).

    Parameters
    ----------
    project, run, step, key, index, kind: where the item was logged.
    error: what was wrong; its ``code`` and ``message`` become the manifest's ``error``.
    caption, revision, source, batch: as the request gave them, when known.
    converter: the converter that refused it; by default ``{name: kind, version: "-"}``
        (no converter ran).
    input: the item as sent and the request's options (`darkroom reprocess` rebuilds from it).
    """
    return Manifest(
        project=project, run=run, step=step, key=key, index=index, kind=kind, revision=revision,
        status="failed", error=ErrorInfo(code=error.code, message=error.message), caption=caption,
        source=source, converter=converter or ConverterInfo(name=kind, version="-"), batch=batch, input=input,
    )
