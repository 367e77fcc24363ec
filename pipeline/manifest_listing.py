"""Finding a run's manifests by listing their objects, and reading one manifest object.

The manifest objects are the source of truth; the run's index
(`darkroom.pipeline.index`) is a compacted copy of them.  The reader lists
them here for one step, or for a run without a readable index, and
`index.rebuild` makes the index again from them: both import this module,
neither the other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from darkroom.pipeline import paths
from darkroom.pipeline.errors import DamagedObject

if TYPE_CHECKING:
    from darkroom.pipeline.storage import Storage

Ident = tuple[int, str, int]  # (step, key segment, index)

_MANIFEST_NAME = re.compile(r"^(\d+)(?:\.r(\d+))?\.json$")
# A manifest is a few KiB; anything near this is not one.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def listed(storage: "Storage", project: str, run: str, key: str | None = None,
           step: int | None = None) -> Iterator[tuple[Ident, int, str]]:
    """(ident, revision, storage key) of every manifest object of the run (of `step`, of `key`)."""
    prefix = paths.manifests_prefix(project, run)
    if step is not None:
        prefix += f"{int(step)}/"
        if key is not None:
            prefix += paths.segment(key) + "/"
    wanted = paths.segment(key) if key is not None else None
    for storage_key in storage.list(prefix):
        parts = storage_key.split("/")
        match = _MANIFEST_NAME.match(parts[-1])
        if not match or len(parts) < 3 or not parts[-3].isdigit():
            continue
        seg_key, step_text = parts[-2], parts[-3]
        if wanted is not None and seg_key != wanted:
            continue
        yield (int(step_text), seg_key, int(match.group(1))), int(match.group(2) or 1), storage_key


def newest(storage: "Storage", project: str, run: str, key: str | None = None,
           step: int | None = None) -> dict[Ident, str]:
    """Ident -> storage key of each item's newest revision, in ident order."""
    found: dict[Ident, tuple[int, str]] = {}
    for ident, revision, storage_key in listed(storage, project, run, key, step):
        if ident not in found or found[ident][0] < revision:
            found[ident] = (revision, storage_key)
    return {ident: found[ident][1] for ident in sorted(found)}


def load(storage: "Storage", storage_key: str) -> dict[str, Any]:
    """The manifest at `storage_key`, validated, as a JSON dict.

    Raises
    ------
    NotFound: no object there.
    DamagedObject: the object is not a valid manifest.
    """
    from pydantic import ValidationError

    from darkroom.pipeline.manifest import Manifest

    data = storage.get(storage_key, max_bytes=MAX_MANIFEST_BYTES)
    try:
        return Manifest.from_json_bytes(data).model_dump(mode="json", by_alias=True)
    except ValidationError as e:
        raise DamagedObject(storage_key, f"not a manifest ({_first_error(e)})") from None


def _first_error(error: Any) -> str:
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ())) or "the object"
    return f"{where}: {first.get('msg', error)}"
