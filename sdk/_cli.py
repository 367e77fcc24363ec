"""The `darkroom` command group: demo, worker, show, runs, status, reprocess, ui, sync, export, export-video, import,
exporter.

It lives on the SDK side, not in `darkroom.pipeline` as DESIGN.md's layout
first put it: `demo` and `sync` drive the SDK (a run, its sender and spool),
and pipeline must not import the SDK.  The commands are defined by topic in
`darkroom._cli_run` (demo, sync), `_cli_fleet` (worker, status, exporter), `_cli_read`
(show, runs, ui), `_cli_reprocess` and `_cli_transfer` (export, export-video, import), `_cli_storage` (gc), and added to the group here.  They
import what they need when they run, so `darkroom --help` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from darkroom._cli_fleet import exporter, status, worker
from darkroom._cli_read import runs, show, ui
from darkroom._cli_reprocess import reprocess
from darkroom._cli_run import demo, sync
from darkroom._cli_storage import gc
from darkroom._cli_transfer import export, export_video, import_
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


for _command in (demo, worker, show, runs, status, reprocess, ui, sync, export, export_video, import_, gc, exporter):
    main.add_command(_command)


if __name__ == "__main__":
    main()
