"""The `darkroom` commands for a fleet: `worker`, `status` and `exporter`.

`darkroom._cli` adds them to the `darkroom` group.  They import Celery and the
workers only when they run, so `darkroom --help` stays fast.
"""

from __future__ import annotations

import json
from typing import Any

import click

from darkroom.pipeline.queue import QUEUES, THREAD_QUEUES


def _short(queue: str) -> str:
    return queue.split(".", 1)[1]


# Queue names as `--queues` takes them: image, video, ..., data.
_SHORT = [_short(q) for q in QUEUES]


@click.command()
@click.option("--queues", "-Q", default=",".join(_SHORT), show_default=True,
              help=f"Comma-separated queues to serve ({', '.join(_SHORT)}).")
@click.option("--concurrency", "-c", type=int, default=None, help="Worker processes (default: one per core).")
@click.option("--name", "-n", default=None, help="Worker node name (default: darkroom-<pid>@<host>).")
@click.option("--pool", "-P", type=click.Choice(["prefork", "threads", "solo"]), default=None,
              help="prefork: processes, with hard time limits; threads: one process whose threads overlap "
              "storage I/O with encoding (no hard time limits).  Default: threads when every queue served "
              f"is {' or '.join(_short(q) for q in THREAD_QUEUES)}, prefork otherwise.")
@click.option("--loglevel", "-l", default="info", show_default=True)
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve Prometheus metrics at :PORT/metrics and readiness at :PORT/healthz "
              "(needs darkroom[metrics]).")
def worker(queues: str, concurrency: int | None, name: str | None, pool: str | None, loglevel: str,
           metrics_port: int | None) -> None:
    """Start a Celery worker serving darkroom's queues (needs DARKROOM_BROKER_URL).

    Run as many as you like, on any machine that reaches the broker and the
    storage.  Tasks are acknowledged late: a worker killed mid-task has its
    task redelivered to another.

    \b
    SIGTERM (an orchestrator scaling in) is a graceful stop: the worker
    finishes the items it is converting, returns the messages it holds
    and has not started to their queue at once, and exits 0.  Give it a
    grace period above the longest item (docs/operations.md).
    """
    import os

    _exit_0_on_sigterm()  # until Celery installs its own handlers: importing it and the codecs takes a second
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
        # Image and table/html/plot conversions (KindSpec.threads) are bounded
        # by pixel and size limits, and spend a third of their time waiting on
        # storage: threads overlap that wait with encoding
        # (bench/worker_throughput.py: 0.46 of a bare Pillow loop with one
        # prefork process, ~1.0 with two threads).
        # Codecs (video, audio, molecules, meshes) keep processes and their
        # hard time limits.
        pool = "threads" if set(names) <= set(THREAD_QUEUES) else "prefork"
    if concurrency is None and pool == "threads":
        concurrency = 2 * (os.cpu_count() or 1)
    from darkroom.workers.app import app

    if metrics_port is not None:
        from darkroom.workers.serving import enable_metrics

        enable_metrics(metrics_port)
    argv = ["worker", "-Q", ",".join(names), "-l", loglevel,
            "-n", name or f"darkroom-{os.getpid()}@%h", "-P", pool, "--without-gossip", "--without-mingle"]
    if concurrency:
        argv += ["-c", str(concurrency)]
    app.worker_main(argv)


@click.command()
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
    for r in report["runs"]:  # which object, which line: what the table's "damaged" has no room for
        if r.get("damaged"):
            console.print(f"{r['run']}: {r['damaged']['error']}")
    batch_rows = [(r["run"], b) for r in report["runs"] for b in r["batches"]]
    if batch_rows:
        table = Table("run", "reprocess batch", "items", "converted", "failed", "pending", "superseded")
        for run, b in batch_rows:
            table.add_row(run, b["batch"], *(str(b[k]) for k in ("items", "converted", "failed", "pending",
                                                                   "superseded")))
        console.print(table)


def _exit_0_on_sigterm() -> None:
    """SIGTERM ends this process with exit 0: it holds nothing yet (an orchestrator stopping it at start)."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=9842, show_default=True,
              help="Serve the metrics at :PORT/metrics.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--storage-interval", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds between readings of the storage (reprocess batches); the broker is read at each scrape.")
@click.option("--no-storage", is_flag=True, help="Read only the broker (no reprocess metrics).")
@click.option("--rabbitmq-management-url", default=None, metavar="URL",
              help="RabbitMQ brokers: the management API's queues URL, "
              "http://USER:PASSWORD@HOST:15672/api/queues/VHOST (default: the broker's host and credentials, "
              "port 15672).")
def exporter(port: int, host: str, storage_interval: float, no_storage: bool,
             rabbitmq_management_url: str | None) -> None:
    """Serve the fleet's backlog as Prometheus metrics: one exporter per fleet.

    \b
    Per queue: messages waiting, delivered but not yet acknowledged, and the
    age of the oldest waiting one; reprocess batches in flight; whether the
    broker and the storage answered (darkroom_broker_up, darkroom_storage_up).
    Autoscalers scale each queue group on waiting + unacknowledged
    (docs/operations.md).  Needs DARKROOM_BROKER_URL (redis:// or amqp://, RabbitMQ with its
    management plugin) and darkroom[metrics].
    """
    import threading

    _exit_0_on_sigterm()  # it holds nothing: a stop is always clean
    from darkroom.pipeline.exporter import BacklogCollector
    from darkroom.pipeline.metrics_server import prometheus, serve
    from darkroom.pipeline.settings import Settings

    settings = Settings.from_env()
    registry = prometheus().CollectorRegistry()

    def storage() -> Any:
        from darkroom.pipeline.storage import open_storage

        return open_storage(settings.storage_url, settings)

    registry.register(BacklogCollector(settings, None if no_storage else storage, storage_interval,
                                       rabbitmq_management_url))
    serve(registry, port, host)
    click.echo(f"darkroom exporter: http://{host}:{port}/metrics", err=True)
    threading.Event().wait()  # serve until a signal ends the process
