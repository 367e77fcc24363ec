"""`darkroom.Api`: read runs back from storage (history, manifests, media bytes)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import open_storage

if TYPE_CHECKING:
    from darkroom._api_run import ApiRun
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

    def run(self, path: str) -> "ApiRun":
        """The run at ``"project/run_id"``, as W&B's ``Api().run``: ``.name``, ``.config``, ``.summary``,
        ``.history()`` (a DataFrame) and ``.scan_history()`` (every row), and `RunReader`'s manifests,
        tables and files.  A W&B path ``"entity/project/run_id"`` is read without its entity.

        Raises
        ------
        NotFound: no such run in this storage.
        DamagedObject: its run.json does not read as JSON (the error names the object).  A
            damaged history line, manifest or summary is named the same way when it is read;
            the other runs are not affected.
        """
        from darkroom._api_run import ApiRun
        from darkroom.pipeline.reader import split_run_path

        if isinstance(path, str) and path.strip("/").count("/") == 2:  # W&B's entity/project/run_id
            entity, rest = path.strip("/").split("/", 1)
            if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", entity):  # a name, never ".." (refused below)
                path = rest
        project, run = split_run_path(path)
        found = ApiRun(self.storage, project, run)
        found.info  # raises NotFound naming the run if it is not there
        return found

    def reader(self, path: str) -> "RunReader":
        """The pipeline's reader of the run at ``"project/run_id"`` (`Api.run` without W&B's attributes)."""
        return self.run(path).reader

    def runs(self, project: str | None = None) -> list["ApiRun"]:
        """Every run in storage (of `project` if given; W&B's ``"entity/project"`` is read as its project).

        Each is W&B's run object (``.name``, ``.id``, ``.config``, ``.summary``, ``.history()``)
        and also its path ``"project/run_id"`` (a str), as this list held before.
        """
        from darkroom._api_run import ApiRun
        from darkroom.pipeline.reader import list_runs

        if project is not None and "/" in project:
            project = project.rsplit("/", 1)[1]
        return [ApiRun(self.storage, p, r) for p, r in list_runs(self.storage, project)]
