"""The `darkroom` commands that drive a run: `demo` and `sync`.

Both run the SDK (a run, its sender and spool) and end with a finish report,
printed the same way; `darkroom._cli` adds them to the `darkroom` group.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click


@click.command()
@click.option("--steps", default=50, show_default=True, help="Training steps to run.")
@click.option("--project", default="demo", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the finish report as JSON.")
def demo(steps: int, project: str, as_json: bool) -> None:
    """Run a small numpy training loop that logs scalars and images with boxes and masks.

    Uses the same settings as a training job: with none set, the embedded
    default (local worker processes, files in ./darkroom-data).
    """
    from darkroom._demo import run_demo

    run = run_demo(steps=steps, project=project)
    report = run.finish(quiet=as_json)  # type: ignore[attr-defined]
    if as_json:
        click.echo(json.dumps(_report_json(report), indent=1))
        return
    storage = run.settings.resolved_storage_url()  # type: ignore[attr-defined]
    click.echo(f"\nrun {run.path}: {steps} steps logged")  # type: ignore[attr-defined]
    click.echo(f"  media and manifests: {storage}/runs/{run.path}/")  # type: ignore[attr-defined]
    click.echo(f"  report: {report.converted} converted, {len(report.failed)} failed, {report.pending} pending")
    click.echo(f"  look at it:  darkroom show {run.path}")  # type: ignore[attr-defined]
    click.echo(f"  in a browser: darkroom ui --storage {storage}")
    click.echo(f"  in Python:   darkroom.Api().run({run.path!r}).history()")  # type: ignore[attr-defined]
    if not report.ok:
        sys.exit(1)


@click.command()
@click.argument("dirs", nargs=-1, metavar="[DIR]...")
@click.option("--no-wait", is_flag=True, help="Only enqueue; do not wait for the conversions (fleet mode).")
@click.option("--timeout", type=float, default=None, help="Seconds to wait at most.")
@click.option("--storage-url", default=None, metavar="URL",
              help="Where to send (default: DARKROOM_STORAGE_URL).")
@click.option("--trust-spool-storage", is_flag=True,
              help="Send to the storage the spool recorded (only for spools you made yourself).")
@click.option("--json", "as_json", is_flag=True)
def sync(dirs: tuple[str, ...], no_wait: bool, timeout: float | None, storage_url: str | None,
         trust_spool_storage: bool, as_json: bool) -> None:
    """Send what crashed or offline runs left in their spool.

    DIR is a run's local folder (./darkroom-runs/<project>/<run_id>) or any folder
    above it; default ./darkroom-runs (or DARKROOM_DIR).  Items already sent are not sent again.

    \b
    A spool may come from another machine, so it is checked like a queue
    message, and it is sent to --storage-url or DARKROOM_STORAGE_URL, not to
    the storage it names, unless you pass --trust-spool-storage.
    """
    from darkroom._sync import find_run_dirs, sync_run
    from darkroom.pipeline.settings import Settings

    roots = dirs or (Settings.from_env().run_dir,)
    run_dirs = [d for path in roots for d in find_run_dirs(path)]
    if not run_dirs:
        raise click.ClickException(f"no run folders (run.json + spool/) under {', '.join(roots)}")
    reports = []
    for run_dir in run_dirs:
        report = sync_run(run_dir, wait=not no_wait, timeout=timeout, quiet=as_json, storage_url=storage_url,
                          trust_spool_storage=trust_spool_storage)
        reports.append(report)
        if not as_json:
            click.echo(f"{report.run}: {report.converted} converted, {len(report.failed)} failed, "
                       f"{report.pending} pending, {report.spooled} still spooled")
            for failure in report.failed:
                click.echo(f"  failed: {failure}")
    if as_json:
        click.echo(json.dumps([_report_json(r) for r in reports], indent=1))
    if any(r.spooled for r in reports):
        sys.exit(1)


def _report_json(report: Any) -> dict[str, Any]:
    return {"run": report.run, "converted": report.converted, "pending": report.pending,
            "spooled": report.spooled,
            "failed": [{"key": f.key, "step": f.step, "index": f.index, "code": f.code, "message": f.message}
                       for f in report.failed]}


