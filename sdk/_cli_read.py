"""The `darkroom` commands that read storage: `show`, `runs` and `ui`.

`darkroom._cli` adds them to the `darkroom` group.
"""

from __future__ import annotations

import json

import click


@click.command()
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


@click.command()
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


@click.command()
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


