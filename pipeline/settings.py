"""Settings, read once from the environment (and `darkroom.init` arguments), validated.

Everything that bounds a size or picks a backend is here, with the environment
variable that sets it, so an error can name the variable.  Nothing else in
darkroom reads `os.environ` for configuration: settings are passed down.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from darkroom.pipeline.errors import ConfigError

DEFAULT_STORAGE_URL = "file://./darkroom-data"


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds checked before anything is allocated (MEDIA_TYPES.md, general rules)."""

    max_pixels: int = 8192 * 8192  # DARKROOM_MAX_PIXELS; Pillow's own bomb check is 89M
    max_payload_bytes: int = 256 * 1024 * 1024  # DARKROOM_MAX_PAYLOAD_BYTES
    max_items_per_key: int = 1000  # DARKROOM_MAX_ITEMS_PER_KEY
    max_video_frames: int = 10_000  # DARKROOM_MAX_VIDEO_FRAMES
    max_video_pixels: int = 2**31  # DARKROOM_MAX_VIDEO_PIXELS: frames x height x width
    max_audio_samples: int = 48_000 * 60 * 30  # DARKROOM_MAX_AUDIO_SAMPLES: per channel
    max_points: int = 10_000_000  # DARKROOM_MAX_POINTS: point-cloud points, mesh vertices and faces, atoms
    max_table_cells: int = 10_000_000  # DARKROOM_MAX_TABLE_CELLS
    max_boxes: int = 10_000  # DARKROOM_MAX_BOXES: bounding boxes in one group of an image
    # DARKROOM_MAX_EMBED_ATOMS: atoms, hydrogens included, of a molecule built in 3-D.
    # ETKDG's time grows about as atoms**3 and its timeout is not checked while it
    # smooths the distance bounds: measured (rdkit 2026.09) 302 atoms 1.4 s, 602
    # 11 s, 902 46 s per attempt; 3002 ("C"*1000) ran 373 s and took 3.5 GiB.
    max_embed_atoms: int = 1000


_LIMIT_VARS = {
    "max_pixels": "DARKROOM_MAX_PIXELS",
    "max_payload_bytes": "DARKROOM_MAX_PAYLOAD_BYTES",
    "max_items_per_key": "DARKROOM_MAX_ITEMS_PER_KEY",
    "max_video_frames": "DARKROOM_MAX_VIDEO_FRAMES",
    "max_video_pixels": "DARKROOM_MAX_VIDEO_PIXELS",
    "max_audio_samples": "DARKROOM_MAX_AUDIO_SAMPLES",
    "max_points": "DARKROOM_MAX_POINTS",
    "max_table_cells": "DARKROOM_MAX_TABLE_CELLS",
    "max_boxes": "DARKROOM_MAX_BOXES",
    "max_embed_atoms": "DARKROOM_MAX_EMBED_ATOMS",
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where to store, where to queue, and the bounds.  See `from_env`."""

    storage_url: str = DEFAULT_STORAGE_URL
    broker_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key: str | None = dataclasses.field(default=None, repr=False)
    s3_secret_key: str | None = dataclasses.field(default=None, repr=False)
    s3_region: str = "us-east-1"
    limits: Limits = Limits()
    # Memory the SDK may hold for items not yet in the spool (DESIGN.md, point 7).
    send_buffer_bytes: int = 256 * 1024 * 1024
    embedded_workers: int = 1
    # Above the longest hard time limit of any kind (DESIGN.md, Queues): a task
    # running longer than this would be handed to a second worker.
    visibility_timeout: int = 3600
    task_time_limit: int = 600
    # A worker compacts a run's manifest index about once in this many
    # requests (pipeline/index.py): the journal a reader lists stays near
    # this size, and each compaction rewrites about this many entries.
    # Measured (bench/worker_throughput.py, moto on the worker's cores):
    # every 16 requests cost the image worker ~10% of its throughput in
    # listings and writes, every 64 about 3%; readers fetch the longer
    # journal 8 objects at a time.
    index_compact_every: int = 64
    strict: bool = False  # DARKROOM_STRICT, as validated at init(); the guard reads it with strict_mode()
    # Where a run's local folder (its spool) goes: DARKROOM_DIR.
    run_dir: str = "./darkroom-runs"
    project: str = "uncategorized"  # DARKROOM_PROJECT: the project of a run that names none
    # DARKROOM_SPOOL_FSYNC: each batch of spool entries is fsynced before it
    # counts as spooled (survives power loss; ~0.3 ms a file here), or only
    # written (survives the process dying: the page cache keeps it).
    spool_fsync: bool = True
    # DARKROOM_RESEND_AFTER: seconds a request sent to the broker may go
    # without its manifests before finish() and `darkroom sync` send it again
    # (a broker that lost the message); doubled after each resend.
    resend_after: int = 300
    # DARKROOM_IMAGE_FILE_TYPE, DARKROOM_IMAGE_QUALITY: what an Image that names no
    # file_type is stored as (a project's default; docs/media/image.md measures each).
    image_file_type: str = "png"
    image_quality: int | None = None

    @property
    def embedded(self) -> bool:
        """True when no broker is set: conversions run in local processes."""
        return not self.broker_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Read settings from `env` (default: the process environment).

        Parameters
        ----------
        env: the variables to read (``DARKROOM_*``, ``AWS_*``).
        overrides: values that win over the environment, e.g. ``storage_url``
            given to ``darkroom.init``; None means "not given".

        Raises
        ------
        ConfigError: a variable is malformed; the message names it.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}

        def text(var: str) -> str | None:
            value = env.get(var, "").strip()
            return value or None

        values["storage_url"] = text("DARKROOM_STORAGE_URL") or DEFAULT_STORAGE_URL
        values["broker_url"] = text("DARKROOM_BROKER_URL")
        values["s3_endpoint_url"] = text("DARKROOM_S3_ENDPOINT_URL") or text("AWS_ENDPOINT_URL")
        values["s3_access_key"] = text("AWS_ACCESS_KEY_ID")
        values["s3_secret_key"] = text("AWS_SECRET_ACCESS_KEY")
        values["s3_region"] = text("AWS_DEFAULT_REGION") or text("AWS_REGION") or "us-east-1"
        values["limits"] = Limits(
            **{
                field: _positive_int(env, var, getattr(Limits, field))
                for field, var in _LIMIT_VARS.items()
            }
        )
        values["send_buffer_bytes"] = _positive_int(
            env, "DARKROOM_SEND_BUFFER_BYTES", cls.send_buffer_bytes
        )
        values["embedded_workers"] = _positive_int(
            env, "DARKROOM_EMBEDDED_WORKERS", cls.embedded_workers
        )
        values["visibility_timeout"] = _positive_int(
            env, "DARKROOM_VISIBILITY_TIMEOUT", cls.visibility_timeout
        )
        values["task_time_limit"] = _positive_int(
            env, "DARKROOM_TASK_TIME_LIMIT", cls.task_time_limit
        )
        values["index_compact_every"] = _positive_int(
            env, "DARKROOM_INDEX_COMPACT_EVERY", cls.index_compact_every
        )
        values["strict"] = _flag(env, "DARKROOM_STRICT")
        values["run_dir"] = text("DARKROOM_DIR") or cls.run_dir
        values["project"] = text("DARKROOM_PROJECT") or cls.project
        if "DARKROOM_SPOOL_FSYNC" in env:
            values["spool_fsync"] = _flag(env, "DARKROOM_SPOOL_FSYNC")
        values["resend_after"] = _positive_int(env, "DARKROOM_RESEND_AFTER", cls.resend_after)
        values["image_file_type"] = (text("DARKROOM_IMAGE_FILE_TYPE") or cls.image_file_type).lower()
        if text("DARKROOM_IMAGE_QUALITY"):
            values["image_quality"] = _positive_int(env, "DARKROOM_IMAGE_QUALITY", 0)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ConfigError for combinations that cannot work."""
        scheme = self.storage_url.split("://", 1)[0] if "://" in self.storage_url else ""
        if scheme not in ("file", "s3"):
            raise ConfigError(
                f"DARKROOM_STORAGE_URL={self.storage_url!r} is not a storage URL; "
                "accepted: file://PATH or s3://BUCKET[/PREFIX]"
            )
        if self.broker_url and "://" not in self.broker_url:
            raise ConfigError(
                f"DARKROOM_BROKER_URL={self.broker_url!r} is not a broker URL; "
                "accepted: redis://HOST:PORT/DB (or any Celery broker URL)"
            )
        from darkroom.pipeline.image_layout import check_file_type, check_quality
        from darkroom.pipeline.errors import InvalidInput

        try:
            check_file_type(self.image_file_type, "DARKROOM_IMAGE_FILE_TYPE:")
            check_quality(self.image_file_type, self.image_quality, "DARKROOM_IMAGE_QUALITY:")
        except InvalidInput as e:
            raise ConfigError(e.message) from None
        if self.visibility_timeout <= self.task_time_limit:
            raise ConfigError(
                f"DARKROOM_VISIBILITY_TIMEOUT={self.visibility_timeout} must exceed "
                f"DARKROOM_TASK_TIME_LIMIT={self.task_time_limit}: a task still running "
                "past the visibility timeout is handed to a second worker"
            )

    def resolved_storage_url(self) -> str:
        """The storage URL with a relative file:// path made absolute (for subprocesses)."""
        if self.storage_url.startswith("file://"):
            path = Path(self.storage_url[len("file://"):]).expanduser().resolve()
            return "file://" + str(path)
        return self.storage_url


def storage_url_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """DARKROOM_STORAGE_URL when it is set (None: not given, as opposed to the default)."""
    value = (os.environ if env is None else env).get("DARKROOM_STORAGE_URL", "").strip()
    return value or None


def ui_token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """DARKROOM_UI_TOKEN, the token `darkroom ui` requires when none is given (None: not set)."""
    value = (os.environ if env is None else env).get("DARKROOM_UI_TOKEN", "").strip()
    return value or None


def strict_mode(env: Mapping[str, str] | None = None) -> bool:
    """DARKROOM_STRICT: failures after construction raise instead of warning.

    Read at each failure, not once: the guard (`darkroom._guard`) serves every
    run of the process and a test may switch it.  A malformed value is not
    strict (and `Settings.from_env` names it at `init()`).
    """
    try:
        return _flag(os.environ if env is None else env, "DARKROOM_STRICT")
    except ConfigError:
        return False


def _positive_int(env: Mapping[str, str], var: str, default: int) -> int:
    raw = env.get(var, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not a whole number; accepted: a positive integer") from None
    if value <= 0:
        raise ConfigError(f"{var}={raw!r} must be positive")
    return value


def _flag(env: Mapping[str, str], var: str) -> bool:
    raw = env.get(var, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{var}={raw!r} is not a flag; accepted: 1/0, true/false, yes/no, on/off")


def without_password(url: str | None) -> str | None:
    """`url` without its user and password (``redis://u:p@host`` -> ``redis://host``), for files and logs."""
    if not url or "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('@', 1)[1]}"
