"""An item's payloads read from storage and its outputs stored content-addressed (DESIGN.md, point 3).

An item's outputs are stored under a digest of its inputs, converter and
options; a sidecar ``.meta.json`` written last says they are all stored, so a
redelivered or duplicate request finds them and skips the encode.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from darkroom.pipeline import paths
from darkroom.pipeline.errors import InvalidInput, NotFound
from darkroom.pipeline.manifest import ConverterInfo, Manifest, SourceInfo
from darkroom.pipeline.messages import Item, Source
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import Storage
from darkroom.pipeline.payload_types import NPY_MEDIA_TYPE, NPY_ZSTD_MEDIA_TYPE
from darkroom.workers.converters import Output, Payload
from darkroom.workers.payloads import unzstd

_SIDECAR_MAX_BYTES = 16 * 1024 * 1024
_FIXED_FIELDS = frozenset(Manifest.model_fields) - {"boxes"}


def artifact_digest(item: Item, info: ConverterInfo) -> str:
    """The content address of an item's outputs: its inputs plus the converter and options."""
    key = {
        "converter": [info.name, info.version, info.options],
        "source": item.source.sha256,
        "related": {role: src.sha256 for role, src in sorted(item.related.items())},
        "extra": item.extra,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def sidecar_key(kind: str, digest: str) -> str:
    # ".meta.json": an artifact may itself be JSON (a table) under media/<kind>/<digest>.json.
    return paths.media_key(kind, digest, "meta.json")


def read_sidecar(storage: Storage, key: str) -> dict[str, Any] | None:
    """The stored outputs' description, or None when they must be converted (again)."""
    try:
        return json.loads(storage.get(key, max_bytes=_SIDECAR_MAX_BYTES))
    except NotFound:
        return None
    except ValueError:  # a torn or foreign sidecar: convert again
        return None


def store_output(storage: Storage, kind: str, digest: str, output: Output) -> dict[str, Any]:
    """Put a converter's artifact and related files; return the sidecar describing them."""
    artifact_uri = storage.put(paths.media_key(kind, digest, output.format), output.data, output.media_type)
    artifact = {
        "uri": artifact_uri, "sha256": hashlib.sha256(output.data).hexdigest(),
        "bytes": len(output.data), "format": output.format, "media_type": output.media_type,
        **output.measurements,
    }
    related = []
    for rel in output.related:
        rel_digest = hashlib.sha256(f"{digest}:{rel.role}".encode()).hexdigest()
        uri = storage.put(paths.media_key(kind, rel_digest, rel.format), rel.data, rel.media_type)
        related.append({
            "role": rel.role, "uri": uri, "sha256": hashlib.sha256(rel.data).hexdigest(),
            "format": rel.format, "bytes": len(rel.data), **rel.info,
        })
    return {"artifact": artifact, "related": related, "warnings": list(output.warnings),
            "fields": dict(output.manifest_fields)}


def manifest_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A converter's top-level manifest fields (boxes, untrusted, ...), never overriding the fixed ones."""
    return {k: v for k, v in fields.items() if k not in _FIXED_FIELDS and k != "schema"}


def source_key(storage: Storage, source: Source, limits: Limits) -> str:
    """The storage key of a payload URI, refused unless it is a raw payload inside this storage."""
    try:
        key = storage.key_of(source.uri)
    except InvalidInput as e:
        raise InvalidInput("unsafe_uri", f"payload URI refused: {e.message}") from None
    if not key.startswith("raw/"):
        raise InvalidInput("unsafe_uri", f"payload URI {source.uri!r} is not a raw payload (raw/...)")
    if source.bytes > limits.max_payload_bytes:
        raise InvalidInput(
            "too_large",
            f"payload of {source.bytes} bytes exceeds the bound of {limits.max_payload_bytes} "
            "(DARKROOM_MAX_PAYLOAD_BYTES)",
        )
    return key


def fetch(storage: Storage, key: str, source: Source, limits: Limits) -> Payload:
    """A payload's bytes, checked against its sha256."""
    try:
        data = storage.get(key, max_bytes=limits.max_payload_bytes)
    except NotFound:
        raise InvalidInput("missing_payload", f"payload {source.uri} is not in storage (purged, or never uploaded)") from None
    if hashlib.sha256(data).hexdigest() != source.sha256:
        raise InvalidInput("corrupt_payload", f"payload {source.uri} does not match its sha256")
    if source.media_type == NPY_ZSTD_MEDIA_TYPE:  # converters see the .npy it holds
        return Payload(data=unzstd(data, limits.max_payload_bytes), media_type=NPY_MEDIA_TYPE, ext="npy")
    return Payload(data=data, media_type=source.media_type, ext=source.ext)


def source_info(source: Source) -> SourceInfo:
    return SourceInfo(uri=source.uri, sha256=source.sha256, bytes=source.bytes, media_type=source.media_type)
