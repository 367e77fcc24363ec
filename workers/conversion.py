"""One convert request against storage: fetch, validate, convert, put, manifest.

This is the body of the Celery task and of the embedded workers alike.  Invalid
input becomes a failed manifest (no retry); `Transient` errors propagate, so the
caller retries the whole request, which is idempotent: artifacts are content
addressed and manifests have deterministic keys (DESIGN.md, points 3-4).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from darkroom.pipeline import index, paths
from darkroom.pipeline.errors import InvalidInput, MessageDecodeError, NotFound, Transient
from darkroom.pipeline.manifest import (
    ArtifactInfo,
    ConverterInfo,
    ErrorInfo,
    Manifest,
    RelatedInfo,
    SourceInfo,
)
from darkroom.pipeline.messages import ConvertRequest, Item, Source, decode_request
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import Storage
from darkroom.workers.converters import Converter, ItemInput, Output, Payload, converter_for
from darkroom.workers.crash_marks import CRASHES_ALLOWED, CrashMarks

log = logging.getLogger("darkroom.worker")


def process_message(raw: object, storage: Storage, limits: Limits, redelivered: bool = False,
                    compact_every: int = 0, marks: CrashMarks = CrashMarks()) -> list[Manifest]:
    """Decode and process a queue message; return the manifests written.

    A malformed message is logged and yields failed manifests where it names
    enough to place them, and none otherwise; it never raises.

    Raises
    ------
    Transient: storage unreachable; retry the whole message.
    """
    try:
        request = decode_request(raw)
    except MessageDecodeError as e:
        log.error("rejected a malformed message: %s", e.message)
        return []
    return process_request(request, storage, limits, redelivered, compact_every, marks)


def process_request(request: ConvertRequest, storage: Storage, limits: Limits,
                    redelivered: bool = False, compact_every: int = 0,
                    marks: CrashMarks = CrashMarks()) -> list[Manifest]:
    """Convert every item of `request`; one item's failure never costs the others.

    `redelivered`: the queue delivers this request again (a retry, a crashed
    worker); its artifacts may be stored already, whatever the message says.
    `compact_every`: compact the run's manifest index about once in this many
    requests (0: never).
    `marks`: where the items being converted are marked, so an item that
    ended its worker twice fails instead of being tried again (`crash_marks`).
    """
    manifests = _process(request, storage, limits, redelivered, marks)
    # After the manifests: a journal object names only manifests already stored.
    index.append(storage, request.project, request.run, manifests, compact_every)
    return manifests


def _process(request: ConvertRequest, storage: Storage, limits: Limits, redelivered: bool,
             marks: CrashMarks) -> list[Manifest]:
    try:
        converter = converter_for(request.kind)
        options = converter.parse_options(request.options)
    except InvalidInput as e:
        info = ConverterInfo(name=request.kind, version="?", options=request.options)
        return [_write(storage, request, _failed(request, item, info, e)) for item in request.items]
    info = ConverterInfo(
        name=converter.name, version=converter.version, options=options.model_dump(mode="json")
    )
    if len(request.items) > limits.max_items_per_key:
        error = InvalidInput(
            "too_many_items",
            f"{len(request.items)} items under key {request.key!r} at step {request.step}; "
            f"the bound is {limits.max_items_per_key} (DARKROOM_MAX_ITEMS_PER_KEY)",
        )
        return [_write(storage, request, _failed(request, item, info, error)) for item in request.items]
    manifests = []
    for item in request.items:
        ident = f"{request.project}/{request.run}/{request.step}/{request.key}/{item.index}/r{request.revision}"
        starts = marks.start(ident)
        try:
            if starts > CRASHES_ALLOWED:
                log.error("%s/%s step %s %r[%d] ended its worker %d times; failed without converting",
                          request.project, request.run, request.step, request.key, item.index, starts - 1)
                manifest = _failed(request, item, info, InvalidInput(
                    "worker_crashed",
                    f"the worker process ended {starts - 1} times while converting this item (a crash or an "
                    f"out-of-memory kill in the {converter.name} converter, or DARKROOM_TASK_TIME_LIMIT "
                    "reached), so it was not tried again; check the input, or reprocess it with other options"))
            else:
                manifest = _convert_guarded(request, item, converter, options, info, storage, limits, redelivered)
        finally:
            marks.end(ident)
        manifests.append(_write(storage, request, manifest))
    return manifests


def _convert_guarded(request: ConvertRequest, item: Item, converter: Converter, options: Any,
                     info: ConverterInfo, storage: Storage, limits: Limits, redelivered: bool) -> Manifest:
    """The item's manifest: converted, or failed with what was wrong; only `Transient` propagates."""
    try:
        return _convert_item(request, item, converter, options, info, storage, limits, redelivered)
    except Transient:
        raise
    except InvalidInput as e:
        log.info("%s/%s step %s %r[%d] failed: %s", request.project, request.run,
                 request.step, request.key, item.index, e.message)
        return _failed(request, item, info, e)
    except Exception as e:  # the task-entry guard: a converter bug fails one item
        log.exception("converter %s crashed on %s/%s step %s %r[%d]", converter.name,
                      request.project, request.run, request.step, request.key, item.index)
        return _failed(
            request, item, info,
            InvalidInput("internal_error", f"converter {converter.name} failed: {type(e).__name__}: {e}"),
        )


def _convert_item(request: ConvertRequest, item: Item, converter: Converter, options: Any,
                  info: ConverterInfo, storage: Storage, limits: Limits, redelivered: bool) -> Manifest:
    # Every URI is checked before anything is looked up, cached results included.
    keys = {role: _source_key(storage, src, limits) for role, src in [("", item.source), *item.related.items()]}
    digest = _artifact_digest(item, info)
    # ".meta.json": an artifact may itself be JSON (a table) under media/<kind>/<digest>.json.
    sidecar_key = paths.media_key(request.kind, digest, "meta.json")
    fresh = item.new_payload and not redelivered
    cached = None if fresh else _read_sidecar(storage, sidecar_key)
    if cached is None:
        item_input = ItemInput(
            payload=_fetch(storage, keys[""], item.source, limits),
            related={role: _fetch(storage, keys[role], src, limits) for role, src in item.related.items()},
            extra=item.extra,
        )
        output = converter.convert(item_input, options, limits)
        cached = _store_output(storage, request.kind, digest, output)
        # Written last: its presence means every file it names is stored.
        storage.put(sidecar_key, json.dumps(cached).encode(), "application/json")
    return Manifest(
        project=request.project, run=request.run, step=request.step, key=request.key,
        index=item.index, kind=request.kind, revision=request.revision, status="ok",
        warnings=cached["warnings"], caption=item.caption, source=_source_info(item.source),
        artifact=ArtifactInfo(**cached["artifact"]),
        related=[RelatedInfo(**r) for r in cached["related"]],
        **_manifest_fields(cached["fields"]),
        converter=info, batch=request.batch, input=_input(request, item),
    )


_FIXED_FIELDS = frozenset(Manifest.model_fields) - {"boxes"}


def _manifest_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A converter's top-level manifest fields (boxes, untrusted, ...), never overriding the fixed ones."""
    return {k: v for k, v in fields.items() if k not in _FIXED_FIELDS and k != "schema"}


def _artifact_digest(item: Item, info: ConverterInfo) -> str:
    """The content address of an item's outputs: its inputs plus the converter and options."""
    key = {
        "converter": [info.name, info.version, info.options],
        "source": item.source.sha256,
        "related": {role: src.sha256 for role, src in sorted(item.related.items())},
        "extra": item.extra,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _read_sidecar(storage: Storage, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(storage.get(key, max_bytes=16 * 1024 * 1024))
    except NotFound:
        return None
    except ValueError:  # a torn or foreign sidecar: convert again
        return None


def _store_output(storage: Storage, kind: str, digest: str, output: Output) -> dict[str, Any]:
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


def _source_key(storage: Storage, source: Source, limits: Limits) -> str:
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


def _fetch(storage: Storage, key: str, source: Source, limits: Limits) -> Payload:
    try:
        data = storage.get(key, max_bytes=limits.max_payload_bytes)
    except NotFound:
        raise InvalidInput("missing_payload", f"payload {source.uri} is not in storage (purged, or never uploaded)") from None
    if hashlib.sha256(data).hexdigest() != source.sha256:
        raise InvalidInput("corrupt_payload", f"payload {source.uri} does not match its sha256")
    return Payload(data=data, media_type=source.media_type, ext=source.ext)


def _source_info(source: Source) -> SourceInfo:
    return SourceInfo(uri=source.uri, sha256=source.sha256, bytes=source.bytes, media_type=source.media_type)


def _failed(request: ConvertRequest, item: Item, info: ConverterInfo, error: InvalidInput) -> Manifest:
    return Manifest(
        project=request.project, run=request.run, step=request.step, key=request.key,
        index=item.index, kind=request.kind, revision=request.revision, status="failed",
        error=ErrorInfo(code=error.code, message=error.message), caption=item.caption,
        source=_source_info(item.source), converter=info, batch=request.batch,
        input=_input(request, item),
    )


def _input(request: ConvertRequest, item: Item) -> dict[str, Any]:
    return {"options": request.options, "item": item.model_dump(mode="json", exclude={"new_payload"})}


def _write(storage: Storage, request: ConvertRequest, manifest: Manifest) -> Manifest:
    key = paths.manifest_key(request.project, request.run, request.step, request.key,
                             manifest.index, request.revision)
    storage.put(key, manifest.to_json_bytes(), "application/json")
    return manifest
