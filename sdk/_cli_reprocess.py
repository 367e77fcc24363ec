"""The `darkroom reprocess` command: plan, send and follow a reprocess batch.

The plan and the sending live in `darkroom._reprocess` and
`darkroom.pipeline.reprocess`; this module parses the options and prints.
`darkroom._cli` adds the command to the `darkroom` group.
"""

from __future__ import annotations

import json
from typing import Any

import click

from darkroom.pipeline.kinds import KINDS

@click.command()
@click.argument("selector")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only items of this kind.")
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


