"""The one table of media kinds: each kind's queue, chunk size, converter, options model and viewer.

Every list of kinds derives from `TABLE`: the `Kind` type and `KINDS` of
`pipeline/messages.py`, the queues and `queue_for` of `pipeline/queue.py`,
reprocess's chunking, the converter modules of `workers/converters`, the CLI's
``--kind`` choices and the viewer's kinds (served at ``/api/kinds``).  A new
kind is one row here plus its converter module, its SDK class and its viewer
renderer (docs/architecture.md, "Adding a kind").

The converter and its options model are named, not imported: pipeline imports
neither the workers nor the SDK, and a worker without a kind's codec still
starts (`darkroom.workers.converters.converter_for` imports on first use).
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Viewer:
    """What the viewer (sdk/ui/static/js) needs to know to show an item of a kind.

    renderer: the module under ``sdk/ui/static/js/`` that draws one item; it
        exports ``render(item, context)`` returning ``{element, ready, dispose}``.
    measurements: the artifact's measurements shown under the item, in order;
        each a text with ``{field}`` or ``{field:format}`` placeholders (formats:
        ``number``, ``grouped`` (1,234), ``duration``, ``channels`` (mono, 2
        channels)); a text is left out when one of its fields is missing.
    """

    renderer: str
    measurements: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"renderer": self.renderer, "measurements": list(self.measurements)}


@dataclasses.dataclass(frozen=True)
class KindSpec:
    """One media kind: where its requests go and who converts and shows them.

    queue: the Celery queue its requests go to.  Kinds with light conversions
        share ``darkroom.data``; each codec gets its own, so an operator scales
        video encoders apart from image encoders.
    chunk_items: items per queue message when `darkroom reprocess` sends a
        batch: light items amortise the broker round trip, codec kinds keep a
        chunk well inside the task time limit.
    threads: its conversions are bounded by size limits alone, so a worker
        serving only such kinds may run them on threads, without hard time limits.
    converter: the module defining ``CONVERTER`` (`darkroom.workers.converters.Converter`).
    options_model: the name of the converter's options model in that module.
    panel_order: where the viewer puts the kind's panels (images first: what people look at most).
    """

    name: str
    queue: str
    chunk_items: int
    threads: bool
    converter: str
    options_model: str
    panel_order: int
    viewer: Viewer


_CONVERTERS = "darkroom.workers.converters"

# The order of the rows is the order of `KINDS` (and of the published JSON Schemas' enums).
TABLE: tuple[KindSpec, ...] = (
    KindSpec("image", "darkroom.image", 32, True, f"{_CONVERTERS}.image", "ImageOptions", 0,
             Viewer("image_view.js", ("{width}×{height}",))),
    KindSpec("video", "darkroom.video", 4, False, f"{_CONVERTERS}.video", "VideoOptions", 1,
             Viewer("video_view.js", ("{width}×{height}", "{frames} frames", "{fps:number} fps",
                                      "{duration:duration}", "{format}"))),
    KindSpec("audio", "darkroom.audio", 8, False, f"{_CONVERTERS}.audio", "AudioOptions", 2,
             Viewer("audio_view.js", ("{sample_rate:grouped} Hz", "{channels:channels}", "{duration:duration}"))),
    KindSpec("table", "darkroom.data", 32, True, f"{_CONVERTERS}.table", "TableOptions", 4,
             Viewer("table_view.js", ("{rows} rows × {columns} columns",))),
    KindSpec("html", "darkroom.data", 32, True, f"{_CONVERTERS}.html", "HtmlOptions", 7,
             Viewer("html_view.js")),
    KindSpec("molecule", "darkroom.molecule", 4, False, f"{_CONVERTERS}.molecule", "MoleculeOptions", 5,
             Viewer("molecule_view.js", ("{atoms} atoms", "{bonds} bonds", "{format}"))),
    KindSpec("object3d", "darkroom.object3d", 8, False, f"{_CONVERTERS}.object3d", "Object3DOptions", 6,
             Viewer("object3d_view.js", ("{points:grouped} points", "{vertices:grouped} vertices",
                                         "{faces:grouped} faces"))),
    KindSpec("plot", "darkroom.data", 16, True, f"{_CONVERTERS}.plot", "PlotOptions", 3,
             Viewer("plot_view.js")),
    KindSpec("chart", "darkroom.data", 32, True, f"{_CONVERTERS}.chart", "ChartOptions", 8,
             Viewer("chart_view.js", ("{rows:grouped} rows", "{chart}"))),
    KindSpec("plotly", "darkroom.data", 32, True, f"{_CONVERTERS}.plotly", "PlotlyOptions", 9,
             Viewer("plotly_view.js", ("{traces} traces",))),
)

BY_NAME: dict[str, KindSpec] = {spec.name: spec for spec in TABLE}
KINDS: tuple[str, ...] = tuple(BY_NAME)


def spec(kind: str) -> KindSpec:
    """The row of `kind`.

    Raises
    ------
    KeyError: `kind` is not in the table; the message lists the kinds.
    """
    try:
        return BY_NAME[kind]
    except KeyError:
        raise KeyError(f"kind {kind!r} is not a kind; kinds: {', '.join(KINDS)}") from None


def viewer_table() -> list[dict[str, Any]]:
    """The kinds as the viewer reads them (``GET /api/kinds``), in panel order."""
    return [{"kind": s.name, "panel_order": s.panel_order, **s.viewer.to_json()}
            for s in sorted(TABLE, key=lambda s: s.panel_order)]
