"""`darkroom.Image(io.BytesIO(...))`: an open image file is read when the Image is made and decoded by the worker."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

import darkroom


def encoded(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(array).save(buf, fmt)
    return buf.getvalue()


def test_an_open_png_keeps_its_pixels_and_an_unreadable_one_fails_with_what_is_accepted(
        embedded_env: dict[str, str]) -> None:
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    buf = io.BytesIO(encoded(pixels, "png"))
    image = darkroom.Image(buf)
    buf.seek(0)
    buf.write(b"overwritten")  # the caller reuses its buffer: the Image kept its own copy
    run = darkroom.init(project="files")
    run.log({"png": image, "webp": darkroom.Image(io.BytesIO(encoded(pixels, "webp"))),
             "junk": darkroom.Image(io.BytesIO(b"not an image"))})
    report = run.finish(quiet=True)
    assert report.converted == 2 and [(f.key, f.code) for f in report.failed] == [("junk", "unreadable_file")]
    assert "accepted: png, jpeg, webp, bmp, gif, tiff" in report.failed[0].message
    reader = darkroom.Api().run(run.path)
    (png,) = reader.manifests(key="png")
    assert png["source"]["media_type"] == "image/png"
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(reader.read(png)))), pixels)
    (webp,) = reader.manifests(key="webp")
    assert webp["source"]["media_type"] == "image/webp" and (webp["artifact"]["width"], webp["artifact"]["height"]) == (6, 4)
