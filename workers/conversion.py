"""One convert request against storage: fetch, validate, convert, put, manifest.

This is the body of the Celery task and of the embedded workers alike.  Invalid
input becomes a failed manifest (no retry); `Transient` errors propagate, so the
caller retries the whole request, which is idempotent: artifacts are content
addressed and manifests have deterministic keys (DESIGN.md, points 3-4).

The path of one item: `process_message` decodes (or salvages, see
`darkroom.workers.undecodable`), `process_request` checks what holds for the
whole request, and a `Conversion` converts one item: marks it, converts it
guarded, and writes its manifest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

from darkroom.pipeline import audio_layout, index, paths
from darkroom.pipeline.errors import InvalidInput, MessageDecodeError, Transient
from darkroom.pipeline.manifest import ArtifactInfo, ConverterInfo, Manifest, RelatedInfo, failed_manifest
from darkroom.pipeline.messages import ConvertRequest, Item, decode_request
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import Storage
from darkroom.workers import artifacts
from darkroom.workers.converters import Converter, ItemInput, converter_for
from darkroom.workers.crash_marks import CRASHES_ALLOWED, CrashMarks
from darkroom.workers.metrics import NO_METRICS, NoMetrics
from darkroom.workers.undecodable import salvage

log = logging.getLogger("darkroom.worker")


@dataclasses.dataclass(frozen=True)
class WorkerContext:
    """What a worker process converts with, the same for every request it takes."""

    storage: Storage
    limits: Limits
    # Compact the run's manifest index about once in this many requests (0: never).
    compact_every: int = 0
    # Where the items being converted are marked, so an item that ended its
    # worker twice fails instead of being tried again (`crash_marks`).
    marks: CrashMarks = dataclasses.field(default_factory=CrashMarks)
    # Where each item's outcome and time are counted (`darkroom.workers.metrics`).
    metrics: NoMetrics = NO_METRICS


def process_message(raw: object, worker: WorkerContext, redelivered: bool = False) -> list[Manifest]:
    """Decode and process a queue message; return the manifests written.

    A malformed message is logged; each item it names where it can be placed
    (project, run, step, key and index readable) gets a failed manifest, and
    its items that decode alone are converted.  It never raises for the
    message's content.

    Raises
    ------
    Transient: storage unreachable; retry the whole message.
    """
    try:
        request = decode_request(raw)
    except MessageDecodeError as e:
        saved = salvage(raw)
        if not saved.failed and saved.request is None:
            log.error("rejected a malformed message (it does not say where its items belong): %s", e.message)
            return []
        log.error("a malformed message: %d item(s) failed, %d converted as usual: %s", len(saved.failed),
                  len(saved.request.items) if saved.request else 0, e.message)
        manifests = [_write(worker.storage, m) for m in saved.failed]
        if saved.request is not None:
            manifests += _convert_all(saved.request, worker, redelivered)
        # In index order, as a request lists its items: the embedded protocol
        # answers each item's outcome by its position in the request.
        manifests.sort(key=lambda m: m.index)
        first = manifests[0]
        index.append(worker.storage, first.project, first.run, manifests, worker.compact_every)
        worker.metrics.outcomes(manifests)
        return manifests
    return process_request(request, worker, redelivered)


def process_request(request: ConvertRequest, worker: WorkerContext, redelivered: bool = False) -> list[Manifest]:
    """Convert every item of `request`; one item's failure never costs the others.

    `redelivered`: the queue delivers this request again (a retry, a crashed
    worker); its artifacts may be stored already, whatever the message says.
    """
    manifests = _convert_all(request, worker, redelivered)
    # After the manifests: a journal object names only manifests already stored.
    index.append(worker.storage, request.project, request.run, manifests, worker.compact_every)
    worker.metrics.outcomes(manifests)
    return manifests


def _convert_all(request: ConvertRequest, worker: WorkerContext, redelivered: bool) -> list[Manifest]:
    """Each item's manifest, written; what fails the whole request fails each of its items."""
    storage = worker.storage
    try:
        converter = converter_for(request.kind)
        options = converter.parse_options(request.options)
    except InvalidInput as e:
        info = ConverterInfo(name=request.kind, version="?", options=request.options)
        return [_write(storage, _failed(request, item, info, e)) for item in request.items]
    info = ConverterInfo(
        name=converter.name, version=converter.version, options=options.model_dump(mode="json")
    )
    if len(request.items) > worker.limits.max_items_per_key:
        error = InvalidInput(
            "too_many_items",
            f"{len(request.items)} items under key {request.key!r} at step {request.step}; "
            f"the bound is {worker.limits.max_items_per_key} (DARKROOM_MAX_ITEMS_PER_KEY)",
        )
        return [_write(storage, _failed(request, item, info, error)) for item in request.items]
    if request.kind == "audio":  # the same bound the SDK checks at log() (MEDIA_TYPES.md, Audio)
        try:
            audio_layout.check_clip_count(len(request.items), request.key, request.step)
        except InvalidInput as error:
            return [_write(storage, _failed(request, item, info, error)) for item in request.items]
    return [
        Conversion(request, item, converter, options, info, worker, redelivered).run()
        for item in request.items
    ]


@dataclasses.dataclass(frozen=True)
class Conversion:
    """One item of a request being converted, with everything its conversion needs."""

    request: ConvertRequest
    item: Item
    converter: Converter
    options: Any  # the converter's own options model, validated
    info: ConverterInfo  # the converter as the manifest names it
    worker: WorkerContext
    # The queue delivers the request again: its artifacts may be stored already.
    redelivered: bool

    @property
    def ident(self) -> str:
        """The item as its crash mark names it (every revision apart)."""
        r = self.request
        return f"{r.project}/{r.run}/{r.step}/{r.key}/{self.item.index}/r{r.revision}"

    @property
    def where(self) -> str:
        """The item as the log names it."""
        r = self.request
        return f"{r.project}/{r.run} step {r.step} {r.key!r}[{self.item.index}]"

    def run(self) -> Manifest:
        """Convert the item unless it has ended its worker too often; write and return its manifest.

        Raises
        ------
        Transient: storage unreachable (the caller retries the request).
        """
        began = time.perf_counter()
        marks, metrics = self.worker.marks, self.worker.metrics
        starts = marks.start(self.ident)
        if starts > 1:
            metrics.crash_mark_hit(self.request.kind)
        try:
            if starts > CRASHES_ALLOWED:
                log.error("%s ended its worker %d times; failed without converting", self.where, starts - 1)
                manifest = self.failed(InvalidInput(
                    "worker_crashed",
                    f"the worker process ended {starts - 1} times while converting this item (a crash or an "
                    f"out-of-memory kill in the {self.converter.name} converter, or DARKROOM_TASK_TIME_LIMIT "
                    "reached), so it was not tried again; check the input, or reprocess it with other options"))
            else:
                manifest = self.convert_guarded()
        finally:
            marks.end(self.ident)
        _write(self.worker.storage, manifest)
        metrics.conversion_seconds(self.request.kind, time.perf_counter() - began)
        return manifest

    def convert_guarded(self) -> Manifest:
        """The item's manifest: converted, or failed with what was wrong; only `Transient` propagates."""
        try:
            return self.convert()
        except Transient:
            raise
        except InvalidInput as e:
            log.info("%s failed: %s", self.where, e.message)
            return self.failed(e)
        except Exception as e:  # the task-entry guard: a converter bug fails one item
            log.exception("converter %s crashed on %s", self.converter.name, self.where)
            return self.failed(
                InvalidInput("internal_error", f"converter {self.converter.name} failed: {type(e).__name__}: {e}"))

    def convert(self) -> Manifest:
        """Convert (or find stored) the item's outputs; return its ok manifest."""
        request, item, storage, limits = self.request, self.item, self.worker.storage, self.worker.limits
        # Every URI is checked before anything is looked up, cached results included.
        keys = {role: artifacts.source_key(storage, src, limits)
                for role, src in [("", item.source), *item.related.items()]}
        digest = artifacts.artifact_digest(item, self.info)
        sidecar = artifacts.sidecar_key(request.kind, digest)
        fresh = item.new_payload and not self.redelivered
        cached = None if fresh else artifacts.read_sidecar(storage, sidecar)
        if cached is None:
            item_input = ItemInput(
                payload=artifacts.fetch(storage, keys[""], item.source, limits),
                related={role: artifacts.fetch(storage, keys[role], src, limits)
                         for role, src in item.related.items()},
                extra=item.extra,
            )
            output = self.converter.convert(item_input, self.options, limits)
            cached = artifacts.store_output(storage, request.kind, digest, output)
            # Written last: its presence means every file it names is stored.
            storage.put(sidecar, json.dumps(cached).encode(), "application/json")
        return Manifest(
            project=request.project, run=request.run, step=request.step, key=request.key,
            index=item.index, kind=request.kind, revision=request.revision, status="ok",
            warnings=cached["warnings"], caption=item.caption, source=artifacts.source_info(item.source),
            artifact=ArtifactInfo(**cached["artifact"]),
            related=[RelatedInfo(**r) for r in cached["related"]],
            **artifacts.manifest_fields(cached["fields"]),
            converter=self.info, batch=request.batch, input=_input(request, item),
        )

    def failed(self, error: InvalidInput) -> Manifest:
        return _failed(self.request, self.item, self.info, error)


def _failed(request: ConvertRequest, item: Item, info: ConverterInfo, error: InvalidInput) -> Manifest:
    return failed_manifest(
        request.project, request.run, request.step, request.key, item.index, request.kind, error,
        caption=item.caption, revision=request.revision, converter=info,
        source=artifacts.source_info(item.source), batch=request.batch, input=_input(request, item),
    )


def _input(request: ConvertRequest, item: Item) -> dict[str, Any]:
    return {"options": request.options, "item": item.model_dump(mode="json", exclude={"new_payload"})}


def _write(storage: Storage, manifest: Manifest) -> Manifest:
    key = paths.manifest_key(manifest.project, manifest.run, manifest.step, manifest.key,
                             manifest.index, manifest.revision)
    storage.put(key, manifest.to_json_bytes(), "application/json")
    return manifest
