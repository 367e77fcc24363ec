"""The `darkroom gc` command: delete raw payloads no longer needed, and say what it freed.

The decision lives in `darkroom.pipeline.retention`; this module parses the
options and prints.  `darkroom._cli` adds the command to the `darkroom` group.
"""

from __future__ import annotations

import json
import time

import click


@click.command()
@click.option("--raw-older-than", "older_than", default="30d", show_default=True, metavar="AGE",
              help="Only payloads stored at least this long ago (30d, 12h, 90m, 1w).")
@click.option("--finished-only", is_flag=True,
              help="Keep every payload a run that is not finished (still logging, or crashed) names.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted and freed; delete nothing.")
@click.option("--storage", default=None, help="Storage URL (default: DARKROOM_STORAGE_URL or ./darkroom-data).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def gc(older_than: str, finished_only: bool, dry_run: bool, storage: str | None, as_json: bool) -> None:
    """Delete raw payloads (raw/) that converted items no longer need.

    A raw payload is what the training job sent: the input of a conversion.
    Once its items are converted it is needed only to convert them again
    (`darkroom reprocess`, which then lists the items whose payload is gone).
    Raw payloads are usually most of a storage: a 512x512 image is sent as
    768 KiB and stored as a PNG of a few KiB to 770 KiB.

    \b
    Never deleted:
      - anything outside raw/: artifacts, manifests, history, indexes;
      - a payload no manifest names: its request may be spooled or queued;
      - a payload an item of an unfinished reprocess batch names;
      - with --finished-only, a payload a run that is not finished names;
      - a payload younger than --raw-older-than.
    Keep the age well above a day plus the longest time a request can wait
    in a queue: a run that logs again the bytes of a payload stored within
    the last day does not upload it again (see docs/storage.md).

    \b
    Examples:
      darkroom gc --dry-run                           # what 30 days' retention would free
      darkroom gc --raw-older-than 7d --finished-only
    docs/storage.md shows the S3 lifecycle rule that does the same by age alone.
    """
    from darkroom._api import Api
    from darkroom.pipeline import retention

    age = retention.parse_age(older_than)
    if age < 2 * retention.REFRESH_AFTER and not dry_run:
        click.echo(f"warning: --raw-older-than {older_than} is under 2 days: a job that found a payload stored "
                   "within the last day did not upload it again, and its item may not be converted yet "
                   "(docs/storage.md)", err=True)
    api = Api(storage)
    result = retention.plan(api.storage, age, finished_only, time.time())
    deleted = 0 if dry_run else retention.delete(api.storage, result.delete)
    report = {**result.summary(), "deleted": deleted, "dry_run": dry_run, "storage": api.storage.url}
    if dry_run:
        report["would_delete"], report["would_free_bytes"], report["freed_bytes"] = len(result.delete), result.freed, 0
    if as_json:
        click.echo(json.dumps(report, indent=1))
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(result.delete)} raw payload(s), {_size(result.freed)} "
               f"({result.runs} run(s) read, {api.storage.url})")
    for reason, n in sorted(result.kept.items()):
        click.echo(f"  kept {n} ({_size(result.kept_bytes[reason])}): {reason}")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} B" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
