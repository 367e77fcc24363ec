"""The `darkroom` commands that move media in and out of storage: `export`, `export-video`, `import tensorboard`.

The plan and the copy live in `darkroom.pipeline.export`, the import in
`darkroom._tb_import`; this module parses the options, shows progress and prints.  `darkroom._cli` adds the commands to
the `darkroom` group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from darkroom.pipeline.kinds import KINDS

_FORMATS = ("files", "tensorboard")


@click.command()
@click.argument("selector")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "format_", type=click.Choice(_FORMATS), default="files", show_default=True,
              help="files: every artifact as a file, and a manifests.jsonl per run; tensorboard: an event "
              "file per run (scalars, text, histograms, images, audio) for `tensorboard --logdir DEST`.")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only items of this kind.")
@click.option("--key", default=None, help="Only this log key, or a glob of keys ('val/*').")
@click.option("--steps", default=None, metavar="A:B",
              help="Only steps A <= step < B; either side may be empty (100:, :50).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=16, show_default=True,
              help="Files copied at the same time (each is one storage round trip).")
@click.option("--storage", default=None, help="Storage URL (default: DARKROOM_STORAGE_URL or ./darkroom-data).")
@click.option("--json", "as_json", is_flag=True, help="Print what was exported as JSON (no progress bar).")
def export(selector: str, dest: Path, format_: str, kind: str | None, key: str | None, steps: str | None,
           jobs: int, storage: str | None, as_json: bool) -> None:
    """Export stored runs to DEST, as plain files or as TensorBoard event files.

    SELECTOR is a project, project/run_id, or a glob of them ("vision/*").
    Only converted items are exported (failed ones have no file; `darkroom
    show` lists them).  Each artifact lands at

    \b
      DEST/<project>/<run>/<key>/<step>_<index>.<ext>
      DEST/<project>/<run>/<key>/<step>_<index>.<role>.<ext>   (masks, depictions, ...)
      DEST/<project>/<run>/manifests.jsonl                     (one manifest a line, with "files")

    with the key written as one safe folder name ("val/examples" becomes
    "val%2Fexamples").

    \b
    --format tensorboard writes DEST/<project>/<run>/events.out.tfevents.*.darkroom
    from each run's history: numbers as scalars, text, histograms, images
    (lists as multi-image values), GIF videos as images and WAV/FLAC audio,
    at their steps with their wall times.  Other kinds are counted as
    skipped.  A rerun replaces the file it wrote before.  Needs the
    tensorboard package: pip install 'darkroom[tensorboard]'.

    \b
    Resumable (files): a file already there with the right size and sha256 is
    skipped, and files are written as <name>.part and renamed once whole, so
    after Ctrl-C, a full disk or a lost connection, run the same command
    again and it copies only what is missing.

    \b
    Examples:
      darkroom export vision ./out                       # every run of project vision
      darkroom export 'vision/3k*' ./out --key 'val/*' --steps 1000:
      darkroom export vision/3k2j9x ./out --kind video --json
      darkroom export vision ./tb --format tensorboard && tensorboard --logdir ./tb
    """
    from darkroom import _reprocess
    from darkroom._api import Api
    from darkroom.pipeline import export as exporting
    from darkroom.pipeline.reprocess import Selection

    api = Api(storage)
    selection = Selection(selector=selector, kind=kind, key=key, steps=_reprocess.parse_steps(steps), status="ok")
    runs = exporting.selected_runs(api.storage, selection)
    if format_ == "tensorboard":
        _export_tensorboard(api, runs, dest, selection, as_json)
        return
    plans = [exporting.plan_run(api.storage, p, r, selection) for p, r in runs]
    total = sum(len(p.files) for p in plans)
    report: dict[str, Any] = {"dest": str(dest), "format": format_, "files": total, "written": 0, "skipped": 0,
                              "bytes_written": 0, "runs": {}}
    bar = None if as_json else _Progress(total)
    try:
        for plan in plans:
            copied = exporting.copy_files(api.storage, plan.files, dest, jobs, bar.advance if bar else None)
            manifests = exporting.write_manifests(dest, plan)
            report["runs"][f"{plan.project}/{plan.run}"] = {"items": len(plan.manifests), "files": len(plan.files),
                                                            "manifests": str(manifests)}
            report["written"] += copied.written
            report["skipped"] += copied.skipped
            report["bytes_written"] += copied.bytes
    except KeyboardInterrupt:
        if bar:
            bar.stop()
        click.echo(f"interrupted: {bar.written if bar else 0} file(s) written; every file under {dest} is whole. "
                   "Run the same command again to resume.", err=True)
        sys.exit(130)
    finally:
        if bar:
            bar.stop()
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    click.echo(f"exported {total} file(s) of {len(plans)} run(s) to {dest}: {report['written']} written "
               f"({report['bytes_written']:,} bytes), {report['skipped']} already there")


@click.command("export-video")
@click.argument("selector", metavar="PROJECT/RUN_ID")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", required=True, help="The image key whose steps become the frames.")
@click.option("--fps", type=click.FloatRange(0.1, 240), default=4, show_default=True, help="Frames a second.")
@click.option("--index", type=click.IntRange(0), default=0, show_default=True,
              help="Which image of a list logged under the key (lists: 0, 1, ...).")
@click.option("--steps", default=None, metavar="A:B",
              help="Only steps A <= step < B; either side may be empty (100:, :50).")
@click.option("--storage", default=None, help="Storage URL (default: DARKROOM_STORAGE_URL or ./darkroom-data).")
@click.option("--json", "as_json", is_flag=True, help="Print the video's measurements as JSON.")
def export_video(selector: str, out: Path, key: str, fps: float, index: int, steps: str | None,
                 storage: str | None, as_json: bool) -> None:
    """Encode the images of one key over the steps of a run as a video (OUT: .mp4, .webm or .gif).

    One frame a step, in step order.  Frames of different sizes are padded
    with black at the right and bottom to the largest (H.264 and VP9 also
    need even sizes).  Steps whose item failed or is still pending are left
    out and counted.  Needs PyAV: pip install 'darkroom[video]'.

    \b
    Examples:
      darkroom export-video vision/3k2j9x progress.mp4 --key val/sample --fps 8
      darkroom export-video vision/3k2j9x grid.gif --key val/examples --index 3 --steps 1000:
    """
    from darkroom import _reprocess
    from darkroom._api import Api
    from darkroom.pipeline.errors import InvalidInput
    from darkroom.workers.converters.frame_sequence import write_video

    reader = Api(storage).run(selector)
    start, stop = _reprocess.parse_steps(steps)
    items = [m for m in reader.manifests(key=key) if m["index"] == index and m["kind"] == "image"
             and (start is None or m["step"] >= start) and (stop is None or m["step"] < stop)]
    frames = [m for m in items if m["status"] == "ok"]
    if not frames:
        raise InvalidInput("no_frames", f"run {selector} has no converted image under key {key!r} (index {index})"
                           + (f" in steps {steps}" if steps else "") + "; `darkroom show` lists its keys")
    frames.sort(key=lambda m: m["step"])

    def fetch(ts: Any) -> list[bytes]:
        from darkroom.pipeline.storage import side_by_side

        return side_by_side(reader.read, [frames[t] for t in ts])

    try:
        done = write_video(out, fps, fetch, [(m["artifact"]["width"], m["artifact"]["height"]) for m in frames])
    except OSError as e:
        from darkroom.pipeline.export import ExportError, refused_text

        raise ExportError(refused_text(e, out, out.parent)) from None
    done.update(steps=[frames[0]["step"], frames[-1]["step"]], left_out=len(items) - len(frames))
    if as_json:
        click.echo(json.dumps(done, indent=1))
        return
    click.echo(f"{out}: {done['frames']} frames (steps {frames[0]['step']}..{frames[-1]['step']}) of "
               f"{done['width']}x{done['height']} at {fps:g} fps, {done['codec']}, {done['bytes']:,} bytes"
               + (f"; {done['left_out']} failed or pending step(s) left out" if done["left_out"] else ""))


def _export_tensorboard(api: Any, runs: list[tuple[str, str]], dest: Path, selection: Any, as_json: bool) -> None:
    from darkroom._tb_export import export_run
    from darkroom.pipeline.export import ExportError, refused_text
    from darkroom.pipeline.optional import optional_import
    from darkroom.pipeline.reader import RunReader

    optional_import("tensorboard", "--format tensorboard needs the tensorboard package", "tensorboard", "here")
    report: dict[str, Any] = {"dest": str(dest), "format": "tensorboard", "runs": {}}
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for project, run in runs:
            report["runs"][f"{project}/{run}"] = export_run(RunReader(api.storage, project, run), dest, selection)
    except OSError as e:
        raise ExportError(refused_text(e, Path(e.filename or dest), dest)) from None
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    for path, done in report["runs"].items():
        counts = ", ".join(f"{n} {k}" for k, n in sorted(done["counts"].items())) or "nothing"
        skipped = ", ".join(f"{n} {k}" for k, n in sorted(done["skipped"].items()))
        click.echo(f"{path} -> {done['file']}: {counts}" + (f"; skipped {skipped}" if skipped else ""))


class _Bar:
    """A rich progress bar over a total (bytes of event files), set to where the work is."""

    def __init__(self, what: str, total: int):
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(TextColumn(what), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                                  transient=True)
        self._task = self._progress.add_task(what, total=total)
        self._progress.start()
        self._stopped = False

    def update(self, completed: int) -> None:
        self._progress.update(self._task, completed=completed)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._progress.stop()


class _Progress:
    """A rich progress bar over the files of an export (written and skipped both advance it)."""

    def __init__(self, total: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.written = 0
        self._progress = Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                  transient=True)
        self._task = self._progress.add_task("files", total=total)
        self._progress.start()
        self._stopped = False

    def advance(self, file: object, written: bool, size: int) -> None:
        self.written += written
        self._progress.advance(self._task)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._progress.stop()


@click.group("import")
def import_() -> None:
    """Bring runs logged with another tool into darkroom (see `darkroom import tensorboard --help`)."""


@import_.command()
@click.argument("logdir", type=click.Path(path_type=Path))
@click.option("--project", default=None,
              help="The darkroom project the runs go to (default: LOGDIR's folder name, if it is a valid "
              "project name, else 'tensorboard').")
@click.option("--no-wait", is_flag=True,
              help="With a fleet (DARKROOM_BROKER_URL), return once everything is sent, without waiting "
              "for the workers' conversions.  Embedded runs always wait.")
@click.option("--storage", default=None, help="Storage URL (default: DARKROOM_STORAGE_URL or ./darkroom-data).")
@click.option("--json", "as_json", is_flag=True, help="Print what each run imported as JSON (no progress bar).")
def tensorboard(logdir: Path, project: str | None, no_wait: bool, storage: str | None, as_json: bool) -> None:
    """Import every TensorBoard run found under LOGDIR as a darkroom run.

    A run is each folder holding event files (events.out.tfevents.*), named
    by its path under LOGDIR.  Scalars and text go into history at their
    steps with TensorBoard's wall times, histograms inline, images (each
    image of a multi-image summary) and audio into darkroom media, converted
    by the workers; PR curves as tables, meshes as 3-D objects.  Other
    plugins' values (hparams, graphs, ...) are counted under "skipped".

    \b
    Run it again at will: a run already imported from the same files is
    skipped, and one cut short (Ctrl-C) or grown since is imported again into
    the same darkroom run, where nothing doubles.  A damaged or truncated
    event file is imported up to the damage, and the report names the file,
    the byte where reading stopped and why.

    \b
    Examples:
      darkroom import tensorboard ./runs                    # project "runs"
      darkroom import tensorboard ./lightning_logs --project vision --json
    Needs the tensorboard package: pip install 'darkroom[tensorboard]'.
    """
    from darkroom import _tb_import
    from darkroom._api import Api
    from darkroom.pipeline import paths
    from darkroom.pipeline.errors import InvalidInput

    tb_runs = _tb_import.find_runs(logdir)
    if project is None:
        name = logdir.resolve().name
        try:
            project = paths.check_name("project", name)
        except InvalidInput:
            project = "tensorboard"
    paths.check_name("project", project)
    api = Api(storage)
    total = sum(size for r in tb_runs for size in r.sizes().values())
    bar = None if as_json else _Bar("importing", total)
    results = []
    offset = 0
    try:
        for tb_run in tb_runs:
            done = _tb_import.already_imported(api.storage, project, tb_run)
            if done:
                results.append(_tb_import.Imported(tb_run.name, done, already=True))
            else:
                base = offset
                results.append(_tb_import.import_run(tb_run, project, logdir, storage, not no_wait,
                                                     (lambda n: bar.update(base + n)) if bar else None))
            offset += sum(tb_run.sizes().values())
            if bar:
                bar.update(offset)
    except KeyboardInterrupt:
        if bar:
            bar.stop()
        click.echo("interrupted: what was read is spooled and sent; run the same command again to finish "
                   "(nothing is imported twice)", err=True)
        sys.exit(130)
    finally:
        if bar:
            bar.stop()
    if as_json:
        click.echo(json.dumps({"logdir": str(logdir), "project": project, "runs": [r.to_json() for r in results]},
                              indent=1))
        return
    for r in results:
        if r.already:
            click.echo(f"{r.name}: already imported as {r.path}")
            continue
        counts = ", ".join(f"{n} {k}" for k, n in sorted(r.counts.items())) or "nothing"
        click.echo(f"{r.name} -> {r.path}: {counts}; {r.converted} converted, {len(r.failed)} failed"
                   + (f", {r.pending} pending" if r.pending else ""))
        if r.skipped:
            click.echo("  skipped: " + ", ".join(f"{n} {k}" for k, n in sorted(r.skipped.items())))
        for line in r.damaged:
            click.echo(f"  {line}", err=True)
        for f in r.failed[:10]:
            click.echo(f"  failed: {f['key']!r} step {f['step']}[{f['index']}]: {f['message']}", err=True)
