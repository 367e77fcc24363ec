"""A stored run as W&B's ``wandb.Api()`` gives it: ``.name``, ``.id``, ``.config``, ``.summary``,
``.history()`` (a DataFrame, sampled) and ``.scan_history()`` (every row).

`ApiRun` is also the run's path, ``"project/run_id"`` (a `str`), which is what
`Api.runs` listed before it gave run objects, so code that compares or prints
paths still works.  Everything else of `darkroom.pipeline.reader.RunReader`
(manifests, tables, files) is reachable on it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from darkroom.pipeline.reader import RunReader
    from darkroom.pipeline.storage import Storage


class ApiRun(str):
    """One stored run (read when its attributes are read)."""

    _reader: "RunReader"

    def __new__(cls, storage: "Storage", project: str, run: str) -> "ApiRun":
        from darkroom.pipeline.reader import RunReader

        self = super().__new__(cls, f"{project}/{run}")
        self._reader = RunReader(storage, project, run)
        return self

    def __getattr__(self, name: str) -> Any:  # RunReader's: manifests, table, read, entries, info, ...
        if name.startswith("__") or name == "_reader":  # not made by __new__: no reader to ask
            raise AttributeError(name)
        return getattr(self._reader, name)

    @property
    def reader(self) -> "RunReader":
        """The pipeline's reader of this run (what the viewer and the CLI read through)."""
        return self._reader

    # -- W&B's attributes -------------------------------------------------------
    @property
    def id(self) -> str:
        return self._reader.run

    @property
    def name(self) -> str:
        return str(self._reader.info.get("name") or self._reader.run)

    @property
    def state(self) -> str | None:
        return self._reader.info.get("state")

    @property
    def tags(self) -> list[str]:
        return list(self._reader.info.get("tags") or [])

    @property
    def group(self) -> str | None:
        return self._reader.info.get("group")

    @property
    def job_type(self) -> str | None:
        return self._reader.info.get("job_type")

    @property
    def notes(self) -> str | None:
        return self._reader.info.get("notes")

    @property
    def created_at(self) -> str | None:
        return self._reader.info.get("created_at")

    @property
    def metrics(self) -> dict[str, Any]:
        """`define_metric`'s definitions, by metric name (``step_metric``: its x-axis)."""
        return dict(self._reader.info.get("metrics") or {})

    def _step_metric(self, key: str) -> str | None:
        """The x-axis `define_metric` gave `key`: its own definition's, else the longest matching ``prefix*``."""
        metrics = self.metrics
        if key in metrics:
            return metrics[key].get("step_metric")
        globs = [n for n in metrics if n.endswith("*") and key.startswith(n[:-1])]
        return metrics[max(globs, key=len)].get("step_metric") if globs else None

    def summary_array(self, key: str) -> Any:
        """The whole numpy array put in the summary under `key` (its summary holds its statistics).

        Raises
        ------
        KeyError: the summary has no stored array under `key`.
        """
        from darkroom._summary_array import load_summary_array

        value = self._reader.summary.get(key)
        if not (isinstance(value, dict) and value.get("_type") == "ndarray" and value.get("path")):
            raise KeyError(f"summary[{key!r}] is not a stored array")
        from darkroom.pipeline import paths

        # Read where this run keeps it, whatever the summary says: a summary names no other object.
        return load_summary_array(self._reader.storage.get(paths.summary_array_key(self._reader.project,
                                                                                   self._reader.run, key)))

    def incremental_table(self, key: str, step: int | None = None) -> dict[str, Any]:
        """An INCREMENTAL table (``Table(log_mode="INCREMENTAL")``) as of `step` (default: its last log):
        the rows of every log under `key` up to then, in order, as W&B's UI shows it.

        Raises
        ------
        KeyError: nothing logged under `key` (up to `step`).
        ValueError: a log that is not an increment of this table, or a missing or failed one
            (its rows are not known), naming its step.
        """
        logs = [m for m in self._reader.manifests(key=key) if step is None or m["step"] <= step]
        if not logs:
            raise KeyError(f"no table logged under {key!r}" + ("" if step is None else f" up to step {step}"))
        combined: dict[str, Any] | None = None
        for m in sorted(logs, key=lambda m: (m["step"], m["index"])):
            extra = (m.get("input") or {}).get("item", {}).get("extra") or {}
            if extra.get("log_mode") != "INCREMENTAL":
                raise ValueError(f"{key!r} at step {m['step']} is not an increment (log_mode INCREMENTAL)")
            if m.get("status") != "ok":
                raise ValueError(f"{key!r} at step {m['step']} failed: its rows are not known")
            part = self._reader.table(m)
            if combined is None:
                combined = part
            elif extra.get("first_row") != len(combined["data"]):
                raise ValueError(f"{key!r} at step {m['step']} starts at row {extra.get('first_row')}; "
                                 f"the logs before hold {len(combined['data'])} rows")
            else:
                combined["data"].extend(part["data"])
                combined["column_types"] = {**combined.get("column_types", {}), **part.get("column_types", {})}
        assert combined is not None
        return combined

    # -- history ---------------------------------------------------------------
    def scan_history(self, keys: list[str] | None = None, page_size: int = 1000, min_step: int | None = None,
                     max_step: int | None = None, *, resolve: bool = True) -> Iterator[dict[str, Any]]:
        """Every history row in step order (W&B's ``scan_history``); media resolved to manifests.

        With `keys`, only rows holding every key, and only those keys (as W&B).  `page_size` is
        W&B's and unused.  ``min_step <= _step < max_step`` when given.
        """
        for row in self._reader.history(resolve=resolve):
            step = row["_step"]
            if (min_step is not None and step < min_step) or (max_step is not None and step >= max_step):
                continue
            if keys is None:
                yield row
            elif all(k in row for k in keys):
                yield {k: row[k] for k in keys}

    def history(self, samples: int = 500, keys: list[str] | None = None, x_axis: str = "_step",
                pandas: bool = True, stream: str = "default", *, resolve: bool | None = None) -> Any:
        """At most `samples` rows, evenly spread over the run (first and last kept), as W&B's ``history``.

        With `keys`: the rows holding every key, with those keys, `x_axis`, and the x-axis
        `define_metric` gave them (``step_metric``) when they share one.

        Returns
        -------
        A pandas DataFrame (``pandas=False``: a list of dicts).

        ``history(resolve=...)`` is `RunReader.history`'s call (every row, as an iterator), which
        code written against the pipeline's reader makes: it gets that reader's answer.

        Raises
        ------
        ImportError: pandas is not installed (pass ``pandas=False``).
        """
        if resolve is not None:
            return self._reader.history(resolve=resolve)
        if keys is None:
            rows = list(self.scan_history())
        else:
            steps = {self._step_metric(k) for k in keys}
            wanted = [x_axis, *([steps.pop()] if len(steps) == 1 and None not in steps else []), *keys]
            wanted = list(dict.fromkeys(wanted))
            rows = [{k: row.get(k) for k in wanted} for row in self._reader.history()
                    if all(k in row for k in keys)]
        if samples is not None and len(rows) > samples:
            picked = sorted({round(i * (len(rows) - 1) / max(1, samples - 1)) for i in range(samples)})
            rows = [rows[i] for i in picked]
        if not pandas:
            return rows
        import pandas as pd

        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return f"<darkroom Run {str(self)}>"
