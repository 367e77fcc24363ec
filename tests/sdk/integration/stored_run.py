"""What the integration tests read back: the pipeline's reader of a stored run (rows as dicts, manifests, bytes)."""

from __future__ import annotations

import darkroom
from darkroom.pipeline.reader import RunReader, list_runs


def reader(path: str) -> RunReader:
    """The reader of the run at "project/run_id" in the test's storage (DARKROOM_STORAGE_URL)."""
    project, run = path.split("/")
    return RunReader(darkroom.Api().storage, project, run)


def run_paths() -> list[str]:
    """"project/run_id" of every run in the test's storage."""
    return [f"{project}/{run}" for project, run in list_runs(darkroom.Api().storage)]
