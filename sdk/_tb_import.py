"""`darkroom import tensorboard LOGDIR`: every run of a TensorBoard log becomes a darkroom run.

A run is a directory holding event files (TensorBoard's own rule).  Its
values are read with TensorBoard's reader (`darkroom._tfevents`) and logged
through the run's ordinary sender: scalars and text into history rows at
their steps, histograms inline, images and audio as media that the workers
convert (the encoded files go as they are; nothing is decoded here).

Steps: a TensorBoard log may hold values at any step in any order (a tag
logged per epoch beside one logged per batch), while `Run.log` only moves
forward.  So media are sent as they are read, each at its own step (media
need no order), and each step's row (scalars, text, histograms, references
to its media) is written once, after the last file, in step order, stamped
with the wall time TensorBoard recorded.

Idempotent: a run's id is derived from its directory's name and its first
event file's name (which holds its creation time and host), so importing
again finds it.  A run already imported from files of the same sizes is
skipped; one whose import was cut short, or whose files grew since, is
imported again into the same id, where every row and item lands on the key
it had (rows by step, manifests by step, key and index): nothing doubles.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from darkroom._tfevents import PR_CURVE_COLUMNS, EventFile, Value, event_files
from darkroom.pipeline.errors import InvalidInput, NotFound

MAX_BINS = 512  # darkroom.Histogram's bound; TensorFlow 1's histograms may have more buckets


@dataclasses.dataclass(frozen=True)
class TBRun:
    """One run found under LOGDIR: its name (its folder relative to LOGDIR), folder and event files."""

    name: str
    folder: Path
    files: tuple[Path, ...]

    @property
    def run_id(self) -> str:
        """A darkroom run id that is the same at every import of this run (see the module's docstring)."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name).strip(".-")[:80] or "run"
        digest = hashlib.sha256(f"{self.name}\0{self.files[0].name}".encode()).hexdigest()[:8]
        return f"{slug}-{digest}"

    def sizes(self) -> dict[str, int]:
        return {p.name: p.stat().st_size for p in self.files}


@dataclasses.dataclass
class Imported:
    """What the import of one run did."""

    name: str
    path: str  # "project/run_id"
    already: bool = False  # imported before from the same files: nothing done
    counts: dict[str, int] = dataclasses.field(default_factory=dict)  # scalars, images, audio, ...
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)  # values darkroom does not import, by kind
    damaged: list[str] = dataclasses.field(default_factory=list)  # "file: what was wrong, what was skipped"
    converted: int = 0
    failed: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    pending: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def find_runs(logdir: Path) -> list[TBRun]:
    """Every directory under `logdir` (itself included) that holds event files, by name.

    Raises
    ------
    NotFound: `logdir` does not exist, or holds no event file.
    InvalidInput: `logdir` is a file.
    """
    if not logdir.exists():
        raise NotFound(f"LOGDIR {str(logdir)!r} does not exist; give the folder TensorBoard was started on "
                       "(tensorboard --logdir LOGDIR)")
    if not logdir.is_dir():
        raise InvalidInput("invalid_option", f"LOGDIR {str(logdir)!r} is a file; give the folder that holds "
                           "the event files (events.out.tfevents.*), or one above it")
    runs = []
    for folder, subfolders, _ in os.walk(logdir):
        subfolders.sort()
        files = event_files(Path(folder))
        if files:
            rel = Path(folder).relative_to(logdir).as_posix()
            runs.append(TBRun(logdir.resolve().name if rel == "." else rel, Path(folder), tuple(files)))
    if not runs:
        raise NotFound(f"no event files under {str(logdir)!r}; TensorBoard writes them as "
                       "events.out.tfevents.* in each run's folder")
    return sorted(runs, key=lambda r: r.name)


def already_imported(storage: Any, project: str, tb_run: TBRun) -> str | None:
    """The run's path if it was imported, to the end, from event files of the sizes they have now."""
    from darkroom.pipeline.reader import RunReader

    try:
        info = RunReader(storage, project, tb_run.run_id).info
    except NotFound:
        return None
    record = (info.get("config") or {}).get("tensorboard") or {}
    if info.get("state") == "finished" and record.get("files") == tb_run.sizes():
        return f"{project}/{tb_run.run_id}"
    return None


def import_run(tb_run: TBRun, project: str, logdir: Path, storage_url: str | None, wait: bool,
               progress: Callable[[int], None] | None = None) -> Imported:
    """Import one run (see the module's docstring); `progress(bytes)` is told how far the reading got."""
    import darkroom

    sizes = tb_run.sizes()
    record = {"logdir": str(logdir.resolve()), "run": tb_run.name}
    run = darkroom.init(project=project, id=tb_run.run_id, name=tb_run.name, resume="allow",
                        reinit="create_new", storage_url=storage_url, config={"tensorboard": record})
    done = Imported(tb_run.name, run.path)
    rows: dict[int, dict[str, Any]] = {}
    walls: dict[int, float] = {}
    meshes: dict[tuple[int, str], dict[str, Any]] = {}  # a mesh's parts arrive as separate values
    read_before = 0
    for path in tb_run.files:
        events = EventFile(path)
        for value in events.values():
            if value.what == "mesh":
                meshes.setdefault((value.step, value.tag), {})[value.data[0]] = value.data[1]
                walls[value.step] = max(walls.get(value.step, value.wall_time), value.wall_time)
                continue
            _take(run, value, rows, walls, done)
            if progress is not None:
                progress(read_before + events.bytes_read)
        read_before += path.stat().st_size
        if events.damage:
            done.damaged.append(f"{path.name}: {events.damage}")
        if progress is not None:
            progress(read_before)
    for (step, name), parts in sorted(meshes.items()):
        _take(run, Value(name, step, walls[step], "mesh", parts), rows, walls, done)
    _write_rows(run, rows, walls)
    # Only now: a run whose import was cut short is finished at exit without it, and imported again.
    run.config["tensorboard"] = {**record, "files": sizes}
    report = run.finish(wait=wait, quiet=True)
    done.converted, done.pending = report.converted, report.pending
    done.failed = [dataclasses.asdict(f) for f in report.failed]
    return done


def _take(run: Any, value: Value, rows: dict[int, dict[str, Any]], walls: dict[int, float], done: Imported) -> None:
    """Put one value into its step's row; media are sent to the workers now."""
    import darkroom

    try:
        if value.what == "scalar" or value.what == "text":
            row_value = value.data
        elif value.what == "histogram" and value.data is not None:
            row_value = darkroom.Histogram(np_histogram=_at_most(value.data, MAX_BINS))
        elif value.what == "images" and value.data:
            images = [darkroom.Image(io.BytesIO(b)) for b in value.data]
            row_value = images if len(images) > 1 else images[0]
        elif value.what == "audio" and value.data:
            clips = [darkroom.Audio(io.BytesIO(b), format=_audio_format(b)) for b in value.data]
            row_value = clips if len(clips) > 1 else clips[0]
        elif value.what == "pr_curve":
            row_value = _pr_table(value.data)
        elif value.what == "mesh":
            objects = _meshes(value.data)
            row_value = objects if len(objects) > 1 else objects[0]
        else:
            done.skipped[value.what] = done.skipped.get(value.what, 0) + 1
            return
        # The run's own conversion of a logged value (media go to the sender here, at their step).
        stored = run._row_value(value.tag, row_value, value.step)
    except (TypeError, ValueError, InvalidInput) as e:
        text = e.message if isinstance(e, InvalidInput) else str(e)
        done.skipped[f"{value.what} refused"] = done.skipped.get(f"{value.what} refused", 0) + 1
        done.damaged.append(f"{value.tag!r} at step {value.step}: {text}")
        return
    rows.setdefault(value.step, {})[value.tag] = stored
    walls[value.step] = max(walls.get(value.step, value.wall_time), value.wall_time)
    done.counts[value.what] = done.counts.get(value.what, 0) + (len(value.data) if value.what in ("images", "audio") else 1)


def _write_rows(run: Any, rows: dict[int, dict[str, Any]], walls: dict[int, float]) -> None:
    """Each step's row once, in step order, stamped with TensorBoard's wall time; the summary from the last."""
    from darkroom._histogram import Histogram
    from darkroom._payloads import RowWork

    start = min(walls.values(), default=0.0)
    for step in sorted(rows):
        row = {**rows[step], "_step": step, "_timestamp": walls[step], "_runtime": walls[step] - start}
        run._sender.put(RowWork(row), 1024 + sum(v.nbytes for v in row.values() if isinstance(v, Histogram)))
        for key, value in rows[step].items():
            run.summary._data[key] = value


def _pr_table(curve: np.ndarray) -> Any:
    """A PR curve as a table: one row a threshold (evenly spaced in [0, 1], as TensorBoard's are)."""
    import darkroom

    tp, fp, tn, fn, precision, recall = curve
    thresholds = np.linspace(0.0, 1.0, curve.shape[1]) if curve.shape[1] > 1 else np.zeros(1)
    # Counts are whole numbers unless the curve was weighted (TensorBoard's `weights`): then kept as they are.
    count = int if all(float(x).is_integer() for x in curve[:4].ravel()) else float
    rows = [[float(t), float(p), float(r), count(a), count(b), count(c), count(d)]
            for t, p, r, a, b, c, d in zip(thresholds, precision, recall, tp, fp, tn, fn)]
    return darkroom.Table(columns=list(PR_CURVE_COLUMNS), data=rows)


def _meshes(parts: dict[str, Any]) -> list[Any]:
    """TensorBoard's mesh (vertices [B, N, 3], faces [B, F, 3], colors [B, N, 3]) as Object3D, one a batch element.

    With faces: an OBJ file (vertex colours as OBJ's ``v x y z r g b``); without: a point cloud.
    """
    import darkroom

    if "vertices" not in parts:
        raise ValueError(f"a mesh without vertices (parts: {', '.join(sorted(parts)) or 'none'})")
    vertices = np.asarray(parts["vertices"], float)
    faces = parts.get("faces")
    colors = parts.get("colors")
    # TensorBoard's mesh summary holds triangles: any other shape is refused, never reshaped into wrong faces.
    for what, array in (("vertices", vertices), ("faces", faces), ("colors", colors)):
        if array is not None and (np.ndim(array) < 2 or np.shape(array)[-1] != 3):
            raise ValueError(f"mesh {what} of shape {list(np.shape(array))}; TensorBoard's meshes are "
                             f"[B, N, 3] vertices, [B, F, 3] triangle faces and [B, N, 3] colours")
    vertices = vertices.reshape(-1, *vertices.shape[-2:])
    out = []
    for b, v in enumerate(vertices):
        c = np.asarray(colors).reshape(vertices.shape[0], -1, 3)[b] if colors is not None else None
        if faces is None:
            points = v if c is None else np.hstack([v, c.astype(float)])
            out.append(darkroom.Object3D(points))
            continue
        f = np.asarray(faces).reshape(vertices.shape[0], -1, 3)[b]
        shades = (c / 255.0).tolist() if c is not None else None
        lines = [("v %r %r %r" % tuple(p)) + ("" if shades is None else " %r %r %r" % tuple(shades[i]))
                 for i, p in enumerate(v.tolist())]
        lines += ["f %d %d %d" % tuple(int(x) + 1 for x in face) for face in f]
        out.append(darkroom.Object3D(io.BytesIO(("\n".join(lines) + "\n").encode()), file_type="obj"))
    return out


def _at_most(histogram: tuple[list[float], list[float]], bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) with at most `bins` bins: neighbouring bins summed, their outer edges kept."""
    counts, edges = np.asarray(histogram[0], float), np.asarray(histogram[1], float)
    if len(counts) <= bins:
        return counts, edges
    group = -(-len(counts) // bins)
    starts = np.arange(0, len(counts), group)
    return np.add.reduceat(counts, starts), np.append(edges[starts], edges[-1])


def _audio_format(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    return "mp3" if data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3") else "wav"
