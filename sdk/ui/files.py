"""Serving one media file of an item: content type, HTTP ranges (so video and audio seek) and safety headers.

The file is found through the item's manifest (`RunReader.file_size`,
`RunReader.stream`); a request names a run, key, step, index and role,
never a path.  Only single ranges are honoured (RFC 9110, 14.2: a server may
ignore a Range header; a browser's media element asks for one range at a time).
"""

from __future__ import annotations

import mimetypes
import re
from typing import Any

from starlette.responses import Response, StreamingResponse

from darkroom.pipeline.reader import RunReader

# Formats whose type the manifest may not carry (related files record only a
# format) or that mimetypes does not know.
_TYPES = {
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "bmp": "image/bmp", "gif": "image/gif",
    "mp4": "video/mp4", "webm": "video/webm", "ogg": "video/ogg", "wav": "audio/wav", "flac": "audio/flac",
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "json": "application/json", "pts.json": "application/json",
    "html": "text/html; charset=utf-8", "glb": "model/gltf-binary", "gltf": "model/gltf+json",
    "obj": "model/obj", "stl": "model/stl", "bin": "application/octet-stream",
}
# Sent with every media file: the browser must not guess a type (a text file
# sniffed as HTML), and a file opened on its own runs no script and cannot
# reach the viewer's origin (`sandbox` without allow-same-origin).  Html items
# are user content: this is what keeps them apart from the page.  Their own
# inline scripts and styles may run (logged HTML is often an interactive
# chart), but only in an opaque origin (`HTML_SANDBOX` never grants
# allow-same-origin) and with no network at all: `default-src 'none'` refuses
# every fetch, image, beacon or socket to any origin, so nothing the page
# shows it can be sent anywhere.  Embedded data: images and fonts still show.
HTML_SANDBOX = "; ".join([
    "sandbox allow-scripts", "default-src 'none'", "script-src 'unsafe-inline'", "style-src 'unsafe-inline'",
    "img-src data: blob:", "media-src data: blob:", "font-src data:", "base-uri 'none'", "form-action 'none'",
])
SAFETY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    "Cache-Control": "no-cache",  # revalidated by ETag: a reprocessed item may replace the file
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
WHOLE_BYTES = 1 << 20  # files up to this are sent in one piece; bigger ones are streamed


def content_type(manifest: dict[str, Any], role: str | None) -> str:
    """The artifact's type as the manifest records it, else from the file's format."""
    if role is None:
        artifact = manifest["artifact"]
        if manifest.get("kind") == "html" or artifact.get("format") == "html":
            return "text/html; charset=utf-8"
        if artifact.get("media_type"):
            return artifact["media_type"]
        fmt = artifact.get("format", "")
    else:
        fmt = next((f.get("format", "") for f in manifest.get("related", []) if f.get("role") == role), "")
    return _TYPES.get(fmt) or mimetypes.guess_type(f"x.{fmt}")[0] or "application/octet-stream"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """``[start, end)`` of a ``Range: bytes=...`` header, None to send the whole file,
    or ``"unsatisfiable"`` (416).  Several ranges, or a unit other than bytes, are ignored."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end


def file_response(reader: RunReader, manifest: dict[str, Any], role: str | None, range_header: str | None,
                  if_none_match: str | None, head: bool = False) -> Response:
    """The file, whole (200) or one range (206), or 416 / 304.

    Raises
    ------
    InvalidInput: the item failed or is pending, or has no file with `role`.
    NotFound: the manifest names a file that is not in storage.
    """
    size = reader.file_size(manifest, role)
    entry = manifest["artifact"] if role is None else next(f for f in manifest["related"] if f["role"] == role)
    headers = {**SAFETY_HEADERS, "Accept-Ranges": "bytes"}
    media_type = content_type(manifest, role)
    if media_type.startswith("text/html"):
        headers["Content-Security-Policy"] = HTML_SANDBOX
    if entry.get("sha256"):
        headers["ETag"] = f'"{entry["sha256"]}"'
        if if_none_match and headers["ETag"] in [t.strip() for t in if_none_match.split(",")]:
            return Response(status_code=304, headers=headers)
    wanted = parse_range(range_header, size)
    if wanted == "unsatisfiable":
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    status = 200
    start, end = 0, size
    if wanted is not None:
        start, end = wanted
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if head:
        return Response(status_code=status, headers=headers, media_type=media_type)
    if end - start <= WHOLE_BYTES:  # a small file (a page of images): one read, no streaming machinery
        return Response(b"".join(reader.stream(manifest, role, start, end)), status_code=status, headers=headers,
                        media_type=media_type)
    return StreamingResponse(reader.stream(manifest, role, start, end), status_code=status,
                             headers=headers, media_type=media_type)
