"""`darkroom export SELECTOR DEST --format tensorboard`: each run as an event file TensorBoard opens.

Written with TensorBoard's own event writer and protos (the `tensorboard`
package), one file per run at ``DEST/<project>/<run>/``, from the run's
history in step order, each event stamped with the row's wall time:

- numbers: scalars (``simple_value``, as torch's SummaryWriter writes them);
- text: the text plugin's tensor;
- histograms: ``HistogramProto`` buckets (the row's bins and counts);
- images: one image a value as it was stored (PNG, JPEG, ...: not decoded
  again), a list of images as TensorBoard 2's multi-image tensor;
- GIF videos: an image value (TensorBoard animates GIFs, as torch's add_video
  writes them);
- audio: the stored WAV or FLAC file with its sample rate;
- PR curves: a table of `PR_CURVE_COLUMNS` (what `darkroom import
  tensorboard` makes of one) as the pr_curves plugin's [6, thresholds] tensor.

Other kinds (other tables, HTML, molecules, 3-D objects, other video formats)
have no TensorBoard counterpart here and are counted as skipped.  The file is
written in a temporary folder and moved into place; a rerun replaces the
file an earlier export wrote (its name ends in ``.darkroom``), so TensorBoard
never sees a run twice.
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from darkroom._tfevents import PR_CURVE_COLUMNS
from darkroom.pipeline import paths
from darkroom.pipeline.history import is_media_ref
from darkroom.pipeline.reader import RunReader
from darkroom.pipeline.reprocess import Selection
from darkroom.pipeline.storage import side_by_side

SUFFIX = ".darkroom"
_COLORSPACES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def export_run(reader: RunReader, dest: Path, selection: Selection) -> dict[str, Any]:
    """Write the run's event file under `dest`; return what it holds (counts by kind, skipped, the file)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    manifests: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for m in reader.manifests():
        manifests.setdefault((m["step"], m["key"]), []).append(m)
    folder = dest / paths.segment(reader.project) / paths.segment(reader.run)
    folder.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    staging = Path(tempfile.mkdtemp(prefix=".darkroom-export-", dir=dest))
    try:
        writer = EventFileWriter(str(staging), filename_suffix=SUFFIX)
        start, stop = selection.steps
        for row in reader.history(resolve=False):
            step = row["_step"]
            if (start is not None and step < start) or (stop is not None and step >= stop):
                continue
            values = []
            for key, value in row.items():
                if key.startswith("_") or (selection.key is not None and not fnmatch.fnmatchcase(key, selection.key)):
                    continue
                if is_media_ref(value):
                    items = [m for m in sorted(manifests.get((step, key), []), key=lambda m: m["index"])
                             if m["status"] == "ok" and (selection.kind is None or m["kind"] == selection.kind)]
                    values.extend(_media(reader, summary_pb2, key, items, counts, skipped))
                elif selection.kind is None:
                    made = _plain(summary_pb2, key, value)
                    if made is None:
                        skipped[type(value).__name__] += 1
                    else:
                        values.append(made[1])
                        counts[made[0]] += 1
            if values:
                writer.add_event(event_pb2.Event(step=step, wall_time=float(row.get("_timestamp") or 0.0),
                                                 summary=summary_pb2.Summary(value=values)))
        writer.close()
        (written,) = staging.iterdir()
        for old in folder.glob(f"*tfevents*{SUFFIX}"):
            old.unlink()
        target = folder / written.name
        written.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"file": str(target), "counts": dict(counts), "skipped": dict(skipped)}


def _plain(pb: Any, key: str, value: Any) -> tuple[str, Any] | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "scalars", pb.Summary.Value(tag=key, simple_value=float(value))
    if isinstance(value, str):
        return "text", _text(pb, key, value)
    if isinstance(value, dict) and value.get("_type") == "histogram":
        counts, bins = value["values"], value["bins"]
        num = float(sum(counts))
        centers = [(a + b) / 2 for a, b in zip(bins[:-1], bins[1:])]
        return "histograms", pb.Summary.Value(tag=key, histo=pb.HistogramProto(
            min=float(bins[0]), max=float(bins[-1]), num=num, sum=float(sum(c * x for c, x in zip(counts, centers))),
            sum_squares=float(sum(c * x * x for c, x in zip(counts, centers))),
            bucket_limit=[float(b) for b in bins[1:]], bucket=[float(c) for c in counts]))
    return None


def _text(pb: Any, key: str, body: str) -> Any:
    import numpy as np
    from tensorboard.plugins.text import metadata
    from tensorboard.util import tensor_util

    return pb.Summary.Value(tag=key, metadata=metadata.create_summary_metadata(display_name=key, description=""),
                            tensor=tensor_util.make_tensor_proto(np.array(body.encode(), dtype=object)))


def _media(reader: RunReader, pb: Any, key: str, items: list[dict[str, Any]], counts: Counter[str],
           skipped: Counter[str]) -> list[Any]:
    """The summary values of one key's media at one step (the files read side by side)."""
    out = []
    for m in items:
        if m["kind"] == "table" and _may_be_pr_curve(m):
            curve = _pr_curve(pb, key, reader.table(m))
            if curve is not None:
                out.append(curve)
                counts["pr_curves"] += 1
                continue
        if not _exportable(m):
            skipped[f"{m['kind']} ({m['artifact']['format']})"] += 1
    kept = [m for m in items if _exportable(m)]
    if not kept:
        return out
    data = side_by_side(reader.read, kept)
    images = [(m, d) for m, d in zip(kept, data) if m["kind"] in ("image", "video")]
    if len(images) == 1:
        m, d = images[0]
        art = m["artifact"]
        out.append(pb.Summary.Value(tag=key, image=pb.Summary.Image(
            height=art["height"], width=art["width"], colorspace=_COLORSPACES.get(art.get("mode"), 3),
            encoded_image_string=d)))
    elif images:
        out.append(_images(pb, key, images))
    counts["images"] += len(images)
    for m, d in zip(kept, data):
        if m["kind"] == "audio":
            art = m["artifact"]
            out.append(pb.Summary.Value(tag=key, audio=pb.Summary.Audio(
                sample_rate=float(art["sample_rate"]), num_channels=int(art["channels"]),
                length_frames=int(art["samples"]), encoded_audio_string=d, content_type=art["media_type"])))
            counts["audio"] += 1
    return out


def _may_be_pr_curve(m: dict[str, Any]) -> bool:
    """The manifest's column names (a table's measurements) are `PR_CURVE_COLUMNS`, or not recorded:
    any other table is skipped without reading it (it may be 200,000 rows)."""
    names = m["artifact"].get("column_types")
    return not isinstance(names, dict) or tuple(names) == PR_CURVE_COLUMNS


def _pr_curve(pb: Any, key: str, table: dict[str, Any]) -> Any | None:
    """A table of `PR_CURVE_COLUMNS` as the pr_curves plugin's value (TP, FP, TN, FN, precision, recall
    by threshold); None for any other table."""
    import numpy as np
    from tensorboard.plugins.pr_curve import metadata
    from tensorboard.util import tensor_util

    if tuple(table.get("columns") or ()) != PR_CURVE_COLUMNS or not table.get("data"):
        return None
    try:
        rows = np.asarray(table["data"], dtype=np.float32)
    except (TypeError, ValueError):  # a cell that is not a number: not a curve TensorBoard can draw
        return None
    _, precision, recall, tp, fp, tn, fn = rows.T
    return pb.Summary.Value(tag=key, metadata=metadata.create_summary_metadata(
        display_name=key, description="", num_thresholds=len(rows)),
        tensor=tensor_util.make_tensor_proto(np.stack([tp, fp, tn, fn, precision, recall])))


def _images(pb: Any, key: str, images: list[tuple[dict[str, Any], bytes]]) -> Any:
    """TensorBoard 2's value of several images: a string tensor [width, height, image, image, ...]."""
    import numpy as np
    from tensorboard.plugins.image import metadata
    from tensorboard.util import tensor_util

    first = images[0][0]["artifact"]
    data = np.array([str(first["width"]).encode(), str(first["height"]).encode(), *(d for _, d in images)],
                    dtype=object)
    return pb.Summary.Value(tag=key, metadata=metadata.create_summary_metadata(display_name=key, description=""),
                            tensor=tensor_util.make_tensor_proto(data))


def _exportable(m: dict[str, Any]) -> bool:
    fmt = m["artifact"]["format"]
    return (m["kind"] == "image" or (m["kind"] == "video" and fmt == "gif")
            or (m["kind"] == "audio" and fmt in ("wav", "flac")))
