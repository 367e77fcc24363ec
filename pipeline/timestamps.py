"""The one time format every darkroom file carries (``2026-12-02T18:01:54.000000Z``).

Kept apart from :mod:`darkroom.pipeline.manifest` so that the SDK can stamp a run's
files without importing pydantic (``import darkroom`` stays light).
"""

from __future__ import annotations

import datetime as _dt
import time


def iso_time(stamp: float) -> str:
    """A Unix time as UTC text with microseconds and a ``Z``."""
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return iso_time(time.time())
