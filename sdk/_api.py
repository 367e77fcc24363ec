"""`darkroom.Api`: read runs back from storage (history, manifests, media bytes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import open_storage

if TYPE_CHECKING:
    from darkroom.pipeline.reader import RunReader


class Api:
    """Reads what darkroom stored.

    Parameters
    ----------
    storage_url: where to read (default: ``DARKROOM_STORAGE_URL``, else ``file://./darkroom-data``).
    """

    def __init__(self, storage_url: str | None = None):
        self.settings = Settings.from_env(storage_url=storage_url)
        self.storage = open_storage(self.settings.resolved_storage_url(), self.settings)

    def run(self, path: str) -> "RunReader":
        """The run at ``"project/run_id"`` (see `RunReader`: history, manifests, read, download).

        Raises
        ------
        NotFound: no such run in this storage.
        DamagedObject: its run.json does not read as JSON (the error names the object).  A
            damaged history line, manifest or summary is named the same way when it is read;
            the other runs are not affected.
        """
        from darkroom.pipeline.reader import RunReader, split_run_path

        project, run = split_run_path(path)
        reader = RunReader(self.storage, project, run)
        reader.info  # raises NotFound naming the run if it is not there
        return reader

    def runs(self, project: str | None = None) -> list[str]:
        """``"project/run_id"`` of every run in storage (of `project` if given)."""
        from darkroom.pipeline.reader import list_runs

        return [f"{p}/{r}" for p, r in list_runs(self.storage, project)]
