"""The `darkroom` commands that move media out of storage: `export`.

The plan and the copy live in `darkroom.pipeline.export`; this module parses
the options, shows progress and prints.  `darkroom._cli` adds the commands to
the `darkroom` group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from darkroom.pipeline.kinds import KINDS

_FORMATS = ("files",)


@click.command()
@click.argument("selector")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "format_", type=click.Choice(_FORMATS), default="files", show_default=True,
              help="files: every artifact as a file, and a manifests.jsonl per run.")
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
    """Export stored media to DEST, as plain files.

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
    Resumable: a file already there with the right size and sha256 is
    skipped, and files are written as <name>.part and renamed once whole, so
    after Ctrl-C, a full disk or a lost connection, run the same command
    again and it copies only what is missing.

    \b
    Examples:
      darkroom export vision ./out                       # every run of project vision
      darkroom export 'vision/3k*' ./out --key 'val/*' --steps 1000:
      darkroom export vision/3k2j9x ./out --kind video --json
    """
    from darkroom import _reprocess
    from darkroom._api import Api
    from darkroom.pipeline import export as exporting
    from darkroom.pipeline.reprocess import Selection

    api = Api(storage)
    selection = Selection(selector=selector, kind=kind, key=key, steps=_reprocess.parse_steps(steps), status="ok")
    runs = exporting.selected_runs(api.storage, selection)
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
