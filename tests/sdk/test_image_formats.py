"""`Image(file_type=, quality=)` and the run's default (DARKROOM_IMAGE_FILE_TYPE, DARKROOM_IMAGE_QUALITY), end to end."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

import darkroom
from darkroom.pipeline.errors import ConfigError


def picture() -> np.ndarray:
    y, x = np.mgrid[0:48, 0:64]
    rng = np.random.default_rng(3)
    return np.clip(np.stack([x * 4, y * 5, (x + y) * 2], -1) + rng.normal(0, 6, (48, 64, 3)), 0, 255).astype(np.uint8)


def logged(**images: Any) -> dict[str, dict[str, Any]]:
    run = darkroom.init(project="formats")
    run.log(images)
    report = run.finish(quiet=True)
    assert not report.failed, report.failed
    reader = darkroom.Api().run(run.path)
    return {m["key"]: {**m, "data": reader.read(m)} for m in reader.manifests()}


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"))


def test_webp_is_lossless_by_default_and_lossy_with_a_quality(embedded_env: dict[str, str]) -> None:
    a = picture()
    found = logged(lossless=darkroom.Image(a, file_type="webp"), lossy=darkroom.Image(a, file_type="webp", quality=40),
                   jpg=darkroom.Image(a, file_type="jpg"), jpg20=darkroom.Image(a, file_type="jpg", quality=20),
                   png=darkroom.Image(a))
    assert (found["lossless"]["artifact"]["format"], found["lossless"]["artifact"]["media_type"]) == ("webp", "image/webp")
    assert np.array_equal(pixels(found["lossless"]["data"]), a)
    assert np.array_equal(pixels(found["png"]["data"]), a)
    assert found["lossy"]["converter"]["options"]["quality"] == 40
    assert "quality" not in found["png"]["converter"]["options"]  # unset: the options of older items
    assert len(found["lossy"]["data"]) < len(found["lossless"]["data"])
    assert np.abs(pixels(found["lossy"]["data"]).astype(int) - a).mean() < 12
    assert len(found["jpg20"]["data"]) < len(found["jpg"]["data"])


def test_the_runs_default_applies_to_images_that_name_no_file_type(embedded_env: dict[str, str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DARKROOM_IMAGE_FILE_TYPE", "webp")
    monkeypatch.setenv("DARKROOM_IMAGE_QUALITY", "70")
    a = picture()
    found = logged(default=darkroom.Image(a), own=darkroom.Image(a, file_type="png"),
                   sharper=darkroom.Image(a, quality=95))
    assert (found["default"]["artifact"]["format"], found["default"]["converter"]["options"]["quality"]) == ("webp", 70)
    assert found["own"]["artifact"]["format"] == "png" and "quality" not in found["own"]["converter"]["options"]
    assert found["sharper"]["converter"]["options"]["quality"] == 95
    monkeypatch.setenv("DARKROOM_IMAGE_FILE_TYPE", "png")
    monkeypatch.delenv("DARKROOM_IMAGE_QUALITY")
    found = logged(default=darkroom.Image(a), asked=darkroom.Image(a, quality=50))
    assert found["asked"]["artifact"]["format"] == "png"  # a quality left to a lossless default is dropped
    assert found["default"]["artifact"]["format"] == "png" and np.array_equal(pixels(found["default"]["data"]), a)


def test_refusals_name_the_argument_and_what_is_accepted(embedded_env: dict[str, str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    a = picture()
    with pytest.raises(ValueError, match=r"^Image quality=80 with file_type='png': png is lossless and takes no "
                                         r"quality; quality applies to jpg, jpeg, webp$"):
        darkroom.Image(a, file_type="png", quality=80)
    with pytest.raises(ValueError, match=r"^Image quality=0; accepted: a whole number from 1 to 100, or None"):
        darkroom.Image(a, quality=0)
    monkeypatch.setenv("DARKROOM_IMAGE_FILE_TYPE", "gif")
    with pytest.raises(ConfigError, match=r"^DARKROOM_IMAGE_FILE_TYPE: file_type='gif'; accepted: png, jpg, jpeg, "
                                          r"webp, bmp$"):
        darkroom.init(project="formats")
    monkeypatch.setenv("DARKROOM_IMAGE_FILE_TYPE", "png")
    monkeypatch.setenv("DARKROOM_IMAGE_QUALITY", "70")
    with pytest.raises(ConfigError, match=r"^DARKROOM_IMAGE_QUALITY: quality=70 with file_type='png': png is "
                                          r"lossless and takes no quality"):
        darkroom.init(project="formats")
