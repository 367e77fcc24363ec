"""`run.define_metric`: a metric's own x-axis (``step_metric``) and how its summary is kept.

As W&B's: a name may end in ``*`` to match every key with that prefix
(``"val/*"``); a row that logs such a key without its step metric gets the
step metric's last logged value (``step_sync``); ``summary="min"`` (or
``max``, ``mean``, ``first``, ``last``, ``best`` with ``goal``, several
separated by commas) keeps those aggregates of the key's numbers in the
summary instead of its last value.  The definitions are stored in
``run.json`` under ``metrics``, where the read API and the viewer find them.
"""

from __future__ import annotations

import math
from typing import Any

SUMMARIES = ("min", "max", "mean", "first", "last", "best", "copy", "none")
GOALS = ("minimize", "maximize")


class Metric:
    """What ``define_metric`` returns: the definition, as W&B's ``wandb.Metric``."""

    def __init__(self, name: str, step_metric: str | None, step_sync: bool, hidden: bool,
                 summary: tuple[str, ...], goal: str | None):
        self.name, self.step_metric, self.step_sync = name, step_metric, step_sync
        self.hidden, self.summary, self.goal = hidden, summary, goal

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step_metric": self.step_metric, "step_sync": self.step_sync}
        if self.hidden:
            out["hidden"] = True
        if self.summary:
            out["summary"] = list(self.summary)
        if self.goal:
            out["goal"] = self.goal
        return out

    def __repr__(self) -> str:
        return f"<darkroom.Metric {self.name} step_metric={self.step_metric!r}>"


def define(name: Any, step_metric: Any = None, step_sync: Any = None, hidden: Any = None, summary: Any = None,
           goal: Any = None) -> Metric:
    """A checked `Metric`.

    Raises
    ------
    TypeError, ValueError: what was wrong and what is accepted.
    """
    if not isinstance(name, str) or not name or "*" in name[:-1]:
        raise ValueError(f"define_metric name={name!r}; accepted: a log key, or a prefix ending in '*' ('val/*')")
    if isinstance(step_metric, Metric):
        step_metric = step_metric.name
    if step_metric is not None and (not isinstance(step_metric, str) or not step_metric or "*" in step_metric):
        raise ValueError(f"define_metric step_metric={step_metric!r}; accepted: a log key (no '*')")
    parts: tuple[str, ...] = ()
    if summary is not None:
        if not isinstance(summary, str):
            raise TypeError(f"define_metric summary={summary!r}; accepted: a str of {', '.join(SUMMARIES)}, "
                            "several separated by commas")
        parts = tuple(p.strip() for p in summary.split(",") if p.strip())
        bad = [p for p in parts if p not in SUMMARIES]
        if bad:
            raise ValueError(f"define_metric summary={summary!r}: {bad[0]!r} is not a summary; accepted: "
                             f"{', '.join(SUMMARIES)}")
    if goal is not None:
        goal = {"min": "minimize", "max": "maximize"}.get(goal, goal)
        if goal not in GOALS:
            raise ValueError(f"define_metric goal={goal!r}; accepted: minimize, maximize")
    if "best" in parts and goal is None:
        raise ValueError("define_metric summary='best' needs goal='minimize' or 'maximize'")
    return Metric(name, step_metric, True if step_sync is None else bool(step_sync), bool(hidden), parts, goal)


class Metrics:
    """A run's metric definitions, and what they do to each logged row (on the training thread: dict lookups)."""

    def __init__(self) -> None:
        self.defined: dict[str, Metric] = {}
        self._last: dict[str, Any] = {}  # each step metric's last logged value
        self._aggregates: dict[str, dict[str, Any]] = {}

    def add(self, metric: Metric) -> None:
        self.defined[metric.name] = metric

    def to_json(self) -> dict[str, Any]:
        return {name: m.to_json() for name, m in self.defined.items()}

    def find(self, key: str) -> Metric | None:
        """The definition of `key`: its own, else the longest matching ``prefix*``."""
        exact = self.defined.get(key)
        if exact is not None:
            return exact
        best = None
        for name, metric in self.defined.items():
            if name.endswith("*") and key.startswith(name[:-1]) and (best is None or len(name) > len(best.name)):
                best = metric
        return best

    def sync(self, data: dict[str, Any]) -> dict[str, Any]:
        """`data` with each defined key's step metric added (its last value) when the row lacks it."""
        if not self.defined:
            return data
        steps = {m.step_metric for m in self.defined.values() if m.step_metric}
        for key in steps & data.keys():
            self._last[key] = data[key]
        added = {}
        for key in data:
            metric = self.find(key)
            if (metric is not None and metric.step_metric and metric.step_sync
                    and metric.step_metric not in data and metric.step_metric in self._last):
                added[metric.step_metric] = self._last[metric.step_metric]
        return {**data, **added} if added else data

    def summary_value(self, key: str, value: Any) -> tuple[bool, Any]:
        """(whether `key` has a summary of its own, that summary after `value`)."""
        metric = self.find(key) if self.defined else None
        if metric is None or not metric.summary or metric.summary == ("last",) or "copy" in metric.summary:
            return False, None
        if "none" in metric.summary:
            return True, None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return False, None
        agg = self._aggregates.setdefault(key, {"n": 0, "sum": 0.0})
        agg["n"] += 1
        agg["sum"] += value
        agg.setdefault("first", value)
        agg["last"] = value
        agg["min"] = min(agg.get("min", value), value)
        agg["max"] = max(agg.get("max", value), value)
        out: dict[str, Any] = {}
        for part in metric.summary:
            if part == "mean":
                out["mean"] = agg["sum"] / agg["n"]
            elif part == "best":
                out["best"] = agg["min"] if metric.goal == "minimize" else agg["max"]
            else:
                out[part] = agg[part]
        return True, out
