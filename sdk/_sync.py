"""`darkroom sync`: send what a crashed or offline run left in its spool.

A spool travels between machines (the offline workflow), so sync reads it as
a worker reads a message (DESIGN.md, point 5): the run's names are checked,
object keys must lie inside the run's folder, payloads are named by their
sha256 (`darkroom._delivery`), and the storage URL comes from the command
line or the environment, never from the spool, unless the user passes
``--trust-spool-storage``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from darkroom._report import FinishReport, wait_for_conversions
from darkroom._sender import Sender
from darkroom._spool import Spool
from darkroom.pipeline import paths
from darkroom.pipeline.errors import ConfigError
from darkroom.pipeline.settings import DEFAULT_STORAGE_URL, Settings, storage_url_from_env


def find_run_dirs(path: str | os.PathLike) -> list[Path]:
    """Run folders (holding run.json and spool/) at or below `path`."""
    root = Path(path).expanduser().resolve()
    if (root / "run.json").is_file() and (root / "spool").is_dir():
        return [root]
    return sorted(p.parent for p in root.glob("**/spool") if (p.parent / "run.json").is_file())


def sync_run(run_dir: Path, wait: bool = True, timeout: float | None = None, quiet: bool = False,
             storage_url: str | None = None, trust_spool_storage: bool = False) -> FinishReport:
    """Send every pending spool entry of the run at `run_dir`; return the report.

    Storage: `storage_url`, else ``DARKROOM_STORAGE_URL``; the one the run
    recorded only with `trust_spool_storage` (or when it is the default
    ./darkroom-data here).  The broker comes from the environment when set
    there, else from what the run recorded (a broker password is never
    recorded: set ``DARKROOM_BROKER_URL`` again if it needs one).

    Raises
    ------
    ConfigError: the run folder's run.json is not one darkroom wrote, or it names a
        storage that was not given.
    """
    local = _local_run(run_dir)
    given = storage_url or storage_url_from_env()
    recorded = local.get("storage_url")
    if given is None:
        default = Settings(storage_url=DEFAULT_STORAGE_URL).resolved_storage_url()
        if trust_spool_storage or recorded in (None, default):
            given = recorded or DEFAULT_STORAGE_URL
        else:
            raise ConfigError(
                f"the spool at {run_dir} was logged to storage {recorded!r}; a spool may come from another "
                "machine, so sync sends only where you say: pass --storage-url (or set DARKROOM_STORAGE_URL), "
                "or --trust-spool-storage to use the spool's")
    settings = Settings.from_env(storage_url=given, broker_url=Settings.from_env().broker_url or local.get("broker_url"))
    spool = Spool(run_dir / "spool", fsync=settings.spool_fsync)
    expected, revisions = _expected(spool, local["project"], local["run"])
    sender = Sender(local["project"], local["run"], settings, spool, online=True)
    try:
        sender.flush(timeout)
        view = _RunView(local["project"], local["run"], settings)
        return wait_for_conversions(view, expected, sender, wait=wait or settings.embedded,
                                    timeout=timeout, quiet=quiet, revisions=revisions)
    finally:
        sender.close(timeout=30)


def _local_run(run_dir: Path) -> dict[str, Any]:
    try:
        local = json.loads((run_dir / "run.json").read_text())
        paths.check_name("project", local["project"])
        paths.check_name("run", local["run"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{run_dir / 'run.json'} is not a run folder's run.json ({e})") from None
    if not isinstance(local.get("storage_url"), (str, type(None))) or \
            not isinstance(local.get("broker_url"), (str, type(None))):
        raise ConfigError(f"{run_dir / 'run.json'}: storage_url and broker_url must be text")
    return local


def _expected(spool: Spool, project: str, run: str) -> tuple[dict[tuple[int, str, int], str],
                                                             dict[tuple[int, str, int], int]]:
    """The items the spool will deliver: what the report waits for, and the revision that counts."""
    expected: dict[tuple[int, str, int], str] = {}
    revisions: dict[tuple[int, str, int], int] = {}
    manifests = paths.manifests_prefix(project, run)
    for entry in spool.pending():
        try:
            if entry["type"] == "convert":
                request = entry["request"]
                for item in request["items"]:
                    ident = (int(request["step"]), str(request["key"]), int(item["index"]))
                    expected[ident] = str(request["kind"])
                    revisions[ident] = max(revisions.get(ident, 1), int(request.get("revision", 1)))
            elif entry["type"] == "object" and str(entry["key"]).startswith(manifests):
                # An item the sender already failed (its file was gone, too large):
                # the spooled manifest is its outcome, and the report must list it.
                m = json.loads(entry["body"])
                ident = (int(m["step"]), str(m["key"]), int(m["index"]))
                expected[ident] = str(m["kind"])
                revisions[ident] = max(revisions.get(ident, 1), int(m.get("revision", 1)))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a damaged entry: delivery gives it up and says so
    return expected, revisions


class _RunView:
    """What the report needs of a run, for one that is not in this process."""

    mode = "online"

    def __init__(self, project: str, run: str, settings: Settings):
        self.project, self.id, self.settings = project, run, settings
        self.path = f"{project}/{run}"
