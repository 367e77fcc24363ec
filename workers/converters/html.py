"""HTML documents: decoded as text, optionally given darkroom's stylesheet, marked untrusted."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import Converter, ItemInput, Output

VERSION = "1"
# Inline, no external URL: the page must render offline and in a sandbox.
STYLESHEET = (
    "<style data-darkroom>body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;"
    "margin:1rem;color:#1d1d1f;line-height:1.45}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.25rem .5rem}img{max-width:100%}</style>"
)
_HEAD = re.compile(rb"<head[^>]*>", re.IGNORECASE)


class HtmlOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    inject: bool = True


def convert(item: ItemInput, options: HtmlOptions, limits: Limits) -> Output:
    """Check that the payload is UTF-8 text; inject the stylesheet if asked.

    Raises
    ------
    InvalidInput (``invalid_html``): not UTF-8 text, or binary data.
    """
    data = item.payload.data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput("invalid_html", f"Html is not UTF-8 text (byte {e.start}); accepted: UTF-8 HTML") from None
    if "\x00" in text:
        raise InvalidInput("invalid_html", "Html holds NUL bytes: binary data, not HTML")
    warnings = []
    if options.inject:
        head = _HEAD.search(data)
        if head:
            data = data[: head.end()] + STYLESHEET.encode() + data[head.end():]
        else:
            data = STYLESHEET.encode() + data
    if not text.strip():
        warnings.append("Html is empty")
    return Output(
        data=data,
        format="html",
        media_type="text/html",
        measurements={"chars": len(text)},
        warnings=warnings,
        manifest_fields={"untrusted": True},
    )


CONVERTER = Converter(name="html", version=VERSION, options_model=HtmlOptions, convert=convert)
