"""`darkroom.Html`: an HTML document, stored as a file and marked untrusted."""

from __future__ import annotations

from typing import Any

from darkroom._media import BytesSnapshot, Media, file_from, read_open_file
from darkroom._media_attrs import HtmlAttributes


class Html(HtmlAttributes, Media):
    """HTML to log.

    Parameters
    ----------
    data: a str of HTML, an open file (text or binary), or a path to a ``.html`` file.
    inject: insert darkroom's default stylesheet inline (no external URL).

    The manifest marks every Html item ``untrusted: true``: a viewer must show
    it in a sandboxed frame, never inline.
    """

    kind = "html"

    def __init__(self, data: Any, inject: bool = True, caption: str | None = None):
        super().__init__(caption)
        self._options = {"inject": bool(inject)}
        if hasattr(data, "read"):
            self._payload = BytesSnapshot(read_open_file(data, "Html"), "html", "text/html")
        elif isinstance(data, str) and ("<" in data or "\n" in data or not data.lower().endswith((".html", ".htm"))):
            # HTML, unless it reads as a file name: markup never does ("<p>see index.html" is HTML).
            self._payload = BytesSnapshot(data.encode("utf-8"), "html", "text/html")
        else:
            snap = file_from(data, "Html", "a str of HTML, an open file, or a path to a .html file")
            if snap is None:
                raise TypeError(f"Html got {type(data).__name__}; accepted: a str of HTML, an open file, "
                                "or a path to a .html file")
            self._payload = snap
