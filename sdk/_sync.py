"""`darkroom sync`: send what a crashed or offline run left in its spool."""

from __future__ import annotations

import json
import os
from pathlib import Path

from darkroom._report import FinishReport, wait_for_conversions
from darkroom._sender import Sender
from darkroom._spool import Spool
from darkroom.pipeline import paths
from darkroom.pipeline.settings import Settings


def find_run_dirs(path: str | os.PathLike) -> list[Path]:
    """Run folders (holding run.json and spool/) at or below `path`."""
    root = Path(path).expanduser().resolve()
    if (root / "run.json").is_file() and (root / "spool").is_dir():
        return [root]
    return sorted(p.parent for p in root.glob("**/spool") if (p.parent / "run.json").is_file())


def sync_run(run_dir: Path, wait: bool = True, timeout: float | None = None, quiet: bool = False) -> FinishReport:
    """Send every pending spool entry of the run at `run_dir`; return the report.

    Storage and broker come from the environment when set there, else from
    what the run recorded (a broker password is never recorded: set
    ``DARKROOM_BROKER_URL`` again if it needs one).
    """
    local = json.loads((run_dir / "run.json").read_text())
    settings = Settings.from_env(
        storage_url=os.environ.get("DARKROOM_STORAGE_URL") or local.get("storage_url"),
        broker_url=os.environ.get("DARKROOM_BROKER_URL") or local.get("broker_url"),
    )
    spool = Spool(run_dir / "spool")
    expected: dict[tuple[int, str, int], str] = {}
    revisions: dict[tuple[int, str, int], int] = {}
    manifests = paths.manifests_prefix(local["project"], local["run"])
    for entry in spool.pending():
        if entry["type"] == "convert":
            request = entry["request"]
            for item in request["items"]:
                ident = (request["step"], request["key"], item["index"])
                expected[ident] = request["kind"]
                revisions[ident] = max(revisions.get(ident, 1), request.get("revision", 1))
        elif entry["type"] == "object" and entry["key"].startswith(manifests):
            # An item the sender already failed (its file was gone, too large):
            # the spooled manifest is its outcome, and the report must list it.
            m = json.loads(entry["body"])
            ident = (m["step"], m["key"], m["index"])
            expected[ident] = m["kind"]
            revisions[ident] = max(revisions.get(ident, 1), m.get("revision", 1))
    sender = Sender(local["project"], local["run"], settings, spool, online=True)
    try:
        sender.flush(timeout)
        view = _RunView(local["project"], local["run"], settings)
        return wait_for_conversions(view, expected, sender, wait=wait or settings.embedded,
                                    timeout=timeout, quiet=quiet, revisions=revisions)
    finally:
        sender.close(timeout=30)


class _RunView:
    """What the report needs of a run, for one that is not in this process."""

    mode = "online"

    def __init__(self, project: str, run: str, settings: Settings):
        self.project, self.id, self.settings = project, run, settings
        self.path = f"{project}/{run}"
