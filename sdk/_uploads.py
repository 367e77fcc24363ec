"""A request's raw payloads put to storage from the spool, each at most once in a while."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from darkroom._spool import Spool
from darkroom.pipeline import paths
from darkroom.pipeline.errors import InvalidInput

if TYPE_CHECKING:
    from darkroom.pipeline.messages import ConvertRequest
    from darkroom.pipeline.storage import Storage


class RawUploads:
    """What the delivery loop knows of the raw payloads in storage: the keys it found fresh or put."""

    def __init__(self, spool: Spool, storage: "Storage"):
        self.spool, self.storage = spool, storage
        self._seen: dict[str, float] = {}  # raw key -> when it was found fresh or put

    def put_missing(self, request: "ConvertRequest", entry: dict[str, Any]) -> set[str]:
        """Put the request's raw payloads that storage lacks, from the spool; return their sha256s.

        The spool's file is named by the payload's sha256 and extension, never
        by the entry's say, and checked against the sha256 before it is put.
        """
        from darkroom.pipeline.retention import REFRESH_AFTER, stored_fresh

        media_types = {p.get("name"): p.get("media_type") for p in entry.get("payloads", []) if isinstance(p, dict)}
        uploaded: set[str] = set()
        for item in request.items:
            for source in [item.source, *item.related.values()]:
                key = paths.raw_key(source.sha256, source.ext)
                now, seen = time.time(), self._seen.get(key)
                if seen is not None and now - seen < REFRESH_AFTER:
                    continue
                if not stored_fresh(self.storage.stat(key), now):  # gone, or old: put (again), see gc
                    name = f"{source.sha256}.{source.ext}"
                    try:
                        data = self.spool.payload(name)
                    except FileNotFoundError:
                        raise InvalidInput("missing_payload", f"payload {self.spool.payload_path(name)} is gone "
                                           "from the spool, so the item cannot be sent") from None
                    if hashlib.sha256(data).hexdigest() != source.sha256:
                        raise InvalidInput("corrupt_payload", f"payload {self.spool.payload_path(name)} in the "
                                           "spool does not match its sha256")
                    self.storage.put(key, data, media_types.get(name) or source.media_type)
                    uploaded.add(source.sha256)
                self._seen[key] = now
        return uploaded

    def forget(self) -> None:
        """Look at storage again for every payload (one may have gone since it was seen)."""
        self._seen.clear()
