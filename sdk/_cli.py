"""The `darkroom` command: demo, worker, show, runs, status, reprocess, ui, sync.

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
    click.echo(f"  in a browser: darkroom ui --storage {storage}")
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
    """Show queue depths, the oldest waiting item's age, workers online, and each run's
    items (converted, failed, pending) and reprocess batches.

    SELECTOR is a project, project/run_id, or a glob of them ("vision/*").
    Queues and workers need DARKROOM_BROKER_URL; without it only runs are shown.
    """
    from darkroom._api import Api
    from darkroom.pipeline.status import oldest_waiting, queue_depths, run_counts, workers

    api = Api(storage)
    report: dict[str, Any] = {"queues": None, "workers": None, "runs": run_counts(api.storage, selector)}
    if not api.settings.embedded:
        from darkroom.pipeline.queue import make_celery

        app = make_celery(api.settings)
        report["queues"] = queue_depths(app)
        report["oldest_waiting_seconds"] = oldest_waiting(app)
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
        ages = {q: a for q, a in report["oldest_waiting_seconds"].items() if a is not None}
        if ages:
            console.print("oldest waiting: " + ", ".join(f"{q.split('.', 1)[1]} {a:.0f} s" for q, a in ages.items()))
        online = report["workers"] or {}
        console.print(f"workers online: {len(online)}")
        for name, queues in online.items():
            console.print(f"  {name}: {', '.join(q.split('.', 1)[1] for q in queues)}")
    table = Table("run", "state", "logged", "converted", "failed", "pending")
    for r in report["runs"]:
        table.add_row(r["run"], str(r["state"]), str(r["logged"]), str(r["converted"]), str(r["failed"]),
                      str(r["pending"]))
    console.print(table)
    batch_rows = [(r["run"], b) for r in report["runs"] for b in r["batches"]]
    if batch_rows:
        table = Table("run", "reprocess batch", "items", "converted", "failed", "pending", "superseded")
        for run, b in batch_rows:
            table.add_row(run, b["batch"], *(str(b[k]) for k in ("items", "converted", "failed", "pending",
                                                                   "superseded")))
        console.print(table)


@main.command()
@click.argument("selector")
@click.option("--kind", type=click.Choice(["image", "video", "audio", "table", "html", "molecule", "object3d",
                                           "plot"]), default=None, help="Only items of this kind.")
@click.option("--key", default=None, help="Only this log key, or a glob of keys ('val/*').")
@click.option("--steps", default=None, metavar="A:B",
              help="Only steps A <= step < B; either side may be empty (100:, :50).")
@click.option("--status", "status_", type=click.Choice(["ok", "failed", "any"]), default="any",
              show_default=True, help="Only items whose newest conversion ended so.")
@click.option("--set", "sets", multiple=True, metavar="OPTION=VALUE",
              help="Convert with this option changed (repeatable); VALUE is JSON if it parses (fps=8, "
              "format=webm, loop=true).")
@click.option("--force", is_flag=True,
              help="Convert again items already made by this converter version with these options.")
@click.option("--dry-run", is_flag=True, help="Print the plan; send nothing.")
@click.option("--wait", "wait_", is_flag=True, help="Follow the batch until every item is converted or failed.")
@click.option("--timeout", type=float, default=None, help="Seconds --wait waits at most.")
@click.option("--storage", default=None, help="Storage URL (default: DARKROOM_STORAGE_URL or ./darkroom-data).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan (and outcome) as JSON.")
def reprocess(selector: str, kind: str | None, key: str | None, steps: str | None, status_: str,
              sets: tuple[str, ...], force: bool, dry_run: bool, wait_: bool, timeout: float | None,
              storage: str | None, as_json: bool) -> None:
    """Convert stored media again: new options, a fixed converter, failed items.

    SELECTOR is a project, project/run_id, or a glob of them ("vision/*").
    The plan is read from each item's newest manifest; the raw payloads kept
    in storage are the input.  Every reprocessed item gets a new manifest
    revision (`Api().run(...).revisions(step, key, index)` lists the older
    ones).

    \b
    Examples:
      darkroom reprocess vision --kind video --set format=webm --set fps=8
      darkroom reprocess vision/3k2j9x --status failed
      darkroom reprocess vision --key 'val/masks' --steps 1000: --dry-run

    \b
    With DARKROOM_BROKER_URL set, the batch goes to the workers' queues in
    chunks; `darkroom status` shows its progress, or add --wait.  Without a
    broker it converts here, with local worker processes.  Running the same
    command again (also after killing it) sends only what is not done yet:
    items already made by this converter version with these options are
    skipped unless --force.
    """
    from darkroom import _reprocess
    from darkroom._api import Api
    from darkroom.pipeline.reprocess import Selection

    api = Api(storage)
    selection = Selection(selector=selector, kind=kind, key=key, steps=_reprocess.parse_steps(steps),
                          status=status_, options=_reprocess.parse_sets(sets), force=force)
    result = _reprocess.make_plan(api.storage, selection)
    report: dict[str, Any] = {"plan": result.summary(), "dry_run": dry_run, "embedded": api.settings.embedded}
    if not as_json:
        _print_plan(result, dry_run)
    if dry_run or not result.requests:
        if as_json:
            click.echo(json.dumps(report, indent=1))
        return
    report["sent"] = _reprocess.send(result, selection, api.storage, api.settings, quiet=as_json)
    if api.settings.embedded:
        report["outcome"] = report["sent"]
    elif wait_:
        report["outcome"] = _reprocess.wait(result, api.storage, timeout, quiet=as_json)
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    outcome = report.get("outcome")
    if outcome is None:
        click.echo(f"sent in {report['sent']['messages']} message(s); follow it with: darkroom status {selector}")
    else:
        line = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in outcome.items() if k != "items")
        click.echo(f"batch {result.batch}: {line}")


def _print_plan(result: Any, dry_run: bool) -> None:
    kinds = ", ".join(f"{k} {n}" for k, n in result.by_kind().items()) or "none"
    click.echo(f"batch {result.batch}: {result.item_count} item(s) to convert ({kinds})"
               + (" -- dry run, nothing sent" if dry_run else ""))
    for run, items in sorted(result.items.items()):
        click.echo(f"  {run}: {len(items)}")
    if result.unchanged:
        click.echo(f"skipped {result.unchanged} item(s) already made by this converter version with these "
                   "options (--force converts them again)")
    if result.unbuildable:
        click.echo(f"cannot rebuild {len(result.unbuildable)} item(s):", err=True)
        for u in result.unbuildable[:20]:
            click.echo(f"  {u['run']} step {u['step']} {u['key']!r}[{u['index']}]: {u['reason']}", err=True)
        if len(result.unbuildable) > 20:
            click.echo(f"  ... and {len(result.unbuildable) - 20} more (--json lists all)", err=True)


@main.command()
@click.option("--storage", default=None, help="Storage URL (default: DARKROOM_STORAGE_URL or ./darkroom-data).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on.  Anything but loopback (e.g. 0.0.0.0) requires a token.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--token", default=None, metavar="TOKEN",
              help="Require this token on every request (default: DARKROOM_UI_TOKEN; a new random one "
              "when --host is not loopback; none on loopback).")
def ui(storage: str | None, host: str, port: int, token: str | None) -> None:
    """Serve a web viewer of the runs in storage, and print its URL.

    \b
    The page lists every run (state, items converted / failed / pending) and
    shows a run's config, summary, scalar charts and media: images with box
    and mask overlays, a step slider, video and audio players, tables,
    histograms, HTML (sandboxed), molecules and 3-D objects.  It updates
    while the run goes on.  Works offline, over a folder or S3/MinIO.

    \b
    Safe by default: it listens on 127.0.0.1 only.  With --host 0.0.0.0 it
    requires a token, printed once in the URL (…/?token=…); open that URL,
    or send "Authorization: Bearer <token>".

    \b
    Examples:
      darkroom ui                                  # ./darkroom-data on http://127.0.0.1:8765/
      darkroom ui --storage s3://bucket/prefix     # a fleet's storage (DARKROOM_S3_* set)
      darkroom ui --host 0.0.0.0 --port 8080       # reachable from other machines, with a token
    """
    from darkroom.pipeline.settings import Settings

    where = Settings.from_env(storage_url=storage).resolved_storage_url()
    try:
        from darkroom.ui.serve import choose_token, serve

        serve(storage, host, port, choose_token(host, token),
              announce=lambda url: click.echo(f"darkroom ui: {where}\n  open {url}\n  (Ctrl+C to stop)"))
    except ImportError as e:  # starlette or uvicorn: the `ui` extra
        raise click.ClickException(f"the viewer needs the 'ui' extra ({e.name} is missing): "
                                   "pip install 'darkroom[ui]'") from None
    except (ValueError, OSError) as e:  # a token that cannot be one, a port in use
        raise click.ClickException(str(e)) from None


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
