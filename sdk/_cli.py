"""The `darkroom` command: demo, worker, show, runs, status, sync.

It lives on the SDK side, not in `darkroom.pipeline` as DESIGN.md's layout
first put it: `demo` and `sync` drive the SDK (a run, its sender and spool),
and pipeline must not import the SDK.  Commands import what they need when
they run, so `darkroom --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from darkroom.pipeline.errors import DarkroomError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DarkroomError as e:
            raise click.ClickException(str(e)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="darkroom")
def main() -> None:
    """darkroom develops what a training job logs.

    Training code logs arrays and files with `import darkroom`; workers
    convert them into PNG (and more), store them with a manifest per item, and
    `darkroom.Api()` reads them back.

    \b
    With no environment set, everything runs on this machine and lands in
    ./darkroom-data.  For a fleet, set:
      DARKROOM_BROKER_URL=redis://host:6379/0
      DARKROOM_STORAGE_URL=s3://bucket/prefix
      DARKROOM_S3_ENDPOINT_URL=http://minio:9000  AWS_ACCESS_KEY_ID=...  AWS_SECRET_ACCESS_KEY=...
    and start workers with `darkroom worker`.
    """


@main.command()
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
    click.echo(f"  in Python:   darkroom.Api().run({run.path!r}).history()")  # type: ignore[attr-defined]
    if not report.ok:
        sys.exit(1)


@main.command()
@click.option("--queues", "-Q", default="image,video,audio,molecule,object3d,data", show_default=True,
              help="Comma-separated queues to serve (image, video, audio, molecule, object3d, data).")
@click.option("--concurrency", "-c", type=int, default=None, help="Worker processes (default: one per core).")
@click.option("--name", "-n", default=None, help="Worker node name (default: darkroom-<pid>@<host>).")
@click.option("--pool", "-P", type=click.Choice(["prefork", "threads", "solo"]), default=None,
              help="prefork: processes, with hard time limits; threads: one process whose threads overlap "
              "storage I/O with encoding (no hard time limits).  Default: threads when every queue served "
              "is image or data, prefork otherwise.")
@click.option("--loglevel", "-l", default="info", show_default=True)
def worker(queues: str, concurrency: int | None, name: str | None, pool: str | None, loglevel: str) -> None:
    """Start a Celery worker serving darkroom's queues (needs DARKROOM_BROKER_URL).

    Run as many as you like, on any machine that reaches the broker and the
    storage.  Tasks are acknowledged late: a worker killed mid-task has its
    task redelivered to another.
    """
    import os

    from darkroom.pipeline.queue import queue_names
    from darkroom.pipeline.settings import Settings

    settings = Settings.from_env()
    if settings.embedded:
        raise click.ClickException(
            "DARKROOM_BROKER_URL is not set; a worker needs a broker (e.g. redis://127.0.0.1:6379/0). "
            "Without one, runs convert in their own embedded workers and need no `darkroom worker`."
        )
    try:
        names = queue_names([q.strip() for q in queues.split(",") if q.strip()])
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--queues") from None
    if pool is None:
        # Image and table/html/plot conversions are bounded by pixel and size
        # limits, and spend a third of their time waiting on storage: threads
        # overlap that wait with encoding (bench/worker_throughput.py: 0.46 of a
        # bare Pillow loop with one prefork process, ~1.0 with two threads).
        # Codecs (video, audio, molecules, meshes) keep processes and their
        # hard time limits.
        pool = "threads" if set(names) <= {"darkroom.image", "darkroom.data"} else "prefork"
    if concurrency is None and pool == "threads":
        concurrency = 2 * (os.cpu_count() or 1)
    from darkroom.workers.app import app

    argv = ["worker", "-Q", ",".join(names), "-l", loglevel,
            "-n", name or f"darkroom-{os.getpid()}@%h", "-P", pool, "--without-gossip", "--without-mingle"]
    if concurrency:
        argv += ["-c", str(concurrency)]
    app.worker_main(argv)


@main.command()
@click.argument("run_path", metavar="PROJECT/RUN_ID")
@click.option("--storage", default=None, help="Storage URL (default: DARKROOM_STORAGE_URL or ./darkroom-data).")
@click.option("--json", "as_json", is_flag=True, help="Print the run (info, summary, manifests) as JSON.")
def show(run_path: str, storage: str | None, as_json: bool) -> None:
    """Show a run: its config, summary and every media item with its status."""
    from darkroom._api import Api

    reader = Api(storage).run(run_path)
    info, summary, manifests = reader.info, reader.summary, reader.manifests()
    if as_json:
        click.echo(json.dumps({"info": info, "summary": summary, "manifests": manifests}, indent=1, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{run_path}[/bold]  {info.get('state')}  started {info.get('created_at')}  host {info.get('host')}")
    if info.get("config"):
        console.print("config: " + json.dumps(info["config"]))
    scalars = {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
    if scalars:
        console.print("summary: " + ", ".join(f"{k}={v}" for k, v in scalars.items()))
    table = Table("step", "key", "#", "kind", "status", "artifact / error")
    for m in manifests:
        if m["status"] == "ok":
            art = m["artifact"]
            measured = {k: v for k, v in art.items()
                        if k not in ("uri", "sha256", "bytes", "format", "media_type") and not isinstance(v, (dict, list))}
            detail = f"{art['format']} {art['bytes']} B " + " ".join(f"{k}={v}" for k, v in measured.items())
            if m.get("related"):
                detail += f" +{len(m['related'])} related"
        else:
            detail = f"[red]{m['error']['code']}[/red]: {m['error']['message']}"
        table.add_row(str(m["step"]), m["key"], str(m["index"]), m["kind"], m["status"], detail)
    console.print(table)
    ok = sum(m["status"] == "ok" for m in manifests)
    console.print(f"{ok} ok, {len(manifests) - ok} failed, {len(manifests)} items")


@main.command()
@click.argument("project", required=False)
@click.option("--storage", default=None, help="Storage URL (default: DARKROOM_STORAGE_URL or ./darkroom-data).")
@click.option("--json", "as_json", is_flag=True)
def runs(project: str | None, storage: str | None, as_json: bool) -> None:
    """List the runs in storage (of PROJECT if given)."""
    from darkroom._api import Api

    api = Api(storage)
    found = api.runs(project)
    if as_json:
        click.echo(json.dumps(found))
        return
    for path in found:
        click.echo(path)


@main.command()
@click.argument("selector", required=False)
@click.option("--storage", default=None, help="Storage URL (default: DARKROOM_STORAGE_URL or ./darkroom-data).")
@click.option("--json", "as_json", is_flag=True, help="Print queues, workers and runs as JSON.")
def status(selector: str | None, storage: str | None, as_json: bool) -> None:
    """Show queue depths, workers online and each run's items (converted, failed, pending).

    SELECTOR is a project, project/run_id, or a glob of them ("vision/*").
    Queues and workers need DARKROOM_BROKER_URL; without it only runs are shown.
    """
    from darkroom._api import Api
    from darkroom.pipeline.status import queue_depths, run_counts, workers

    api = Api(storage)
    report: dict[str, Any] = {"queues": None, "workers": None, "runs": run_counts(api.storage, selector)}
    if not api.settings.embedded:
        from darkroom.pipeline.queue import make_celery

        app = make_celery(api.settings)
        report["queues"] = queue_depths(app)
        report["workers"] = workers(app)
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if report["queues"] is None:
        console.print("no broker (DARKROOM_BROKER_URL unset): embedded runs convert in their own workers")
    else:
        console.print("queues: " + ", ".join(f"{q.split('.', 1)[1]}={n}" for q, n in report["queues"].items()))
        online = report["workers"] or {}
        console.print(f"workers online: {len(online)}")
        for name, queues in online.items():
            console.print(f"  {name}: {', '.join(q.split('.', 1)[1] for q in queues)}")
    table = Table("run", "state", "logged", "converted", "failed", "pending")
    for r in report["runs"]:
        table.add_row(r["run"], str(r["state"]), str(r["logged"]), str(r["converted"]), str(r["failed"]),
                      str(r["pending"]))
    console.print(table)


@main.command()
@click.argument("dirs", nargs=-1, metavar="[DIR]...")
@click.option("--no-wait", is_flag=True, help="Only enqueue; do not wait for the conversions (fleet mode).")
@click.option("--timeout", type=float, default=None, help="Seconds to wait at most.")
@click.option("--json", "as_json", is_flag=True)
def sync(dirs: tuple[str, ...], no_wait: bool, timeout: float | None, as_json: bool) -> None:
    """Send what crashed or offline runs left in their spool.

    DIR is a run's local folder (./darkroom-runs/<project>/<run_id>) or any folder
    above it; default ./darkroom-runs (or DARKROOM_DIR).  Items already sent are not sent again.
    """
    import os

    from darkroom._sync import find_run_dirs, sync_run

    roots = dirs or (os.environ.get("DARKROOM_DIR") or "./darkroom-runs",)
    run_dirs = [d for path in roots for d in find_run_dirs(path)]
    if not run_dirs:
        raise click.ClickException(f"no run folders (run.json + spool/) under {', '.join(roots)}")
    reports = []
    for run_dir in run_dirs:
        report = sync_run(run_dir, wait=not no_wait, timeout=timeout, quiet=as_json)
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


if __name__ == "__main__":
    main()
