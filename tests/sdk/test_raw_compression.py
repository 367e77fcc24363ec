"""Raw payloads: large compressible arrays go zstd-compressed, the rest as .npy; workers decompress, bounded."""

from __future__ import annotations

import io

import numpy as np
import pytest
import zstandard
from PIL import Image as PILImage

import darkroom
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import open_storage
from darkroom.workers.payloads import unzstd


def smooth() -> np.ndarray:
    """Flat regions, as in a segmentation output or a rendered scene: what LZ compressors find."""
    blocks = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return np.repeat(np.repeat(blocks, 16, axis=0), 16, axis=1)


def test_a_compressible_array_travels_compressed_and_converts_to_the_same_pixels(embedded_env: dict[str, str]) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    run = darkroom.init(project="raw")
    run.log({"smooth": darkroom.Image(smooth()), "noise": darkroom.Image(noise),
             "small": darkroom.Image(np.full((8, 8), 3, np.uint8))})
    assert run.finish(quiet=True).converted == 3
    reader = darkroom.Api().run(run.path)
    found = {m["key"]: m for m in reader.manifests()}
    source = found["smooth"]["source"]
    assert source["media_type"] == "application/x-npy+zstd" and source["uri"].endswith(".zst")
    assert source["bytes"] < 0.1 * smooth().nbytes
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(reader.read(found["smooth"])))), smooth())
    for key in ("noise", "small"):  # incompressible, and too small to matter: as .npy
        assert found[key]["source"]["media_type"] == "application/x-npy"
        assert found[key]["source"]["uri"].endswith(".npy")
    settings = Settings.from_env()
    stored = open_storage(settings.resolved_storage_url(), settings).get(reader.storage.stored_key(source["uri"]))
    assert zstandard.frame_content_size(stored) == smooth().nbytes + 128  # the .npy inside, header included


def test_a_worker_refuses_a_zstd_payload_over_the_bound_before_decompressing() -> None:
    npy = io.BytesIO()
    np.save(npy, np.zeros(1_000_000, np.uint8))
    packed = zstandard.ZstdCompressor(level=1).compress(npy.getvalue())
    assert len(packed) < 1000  # a million zeros: a bomb's ratio
    with pytest.raises(InvalidInput) as info:
        unzstd(packed, max_bytes=100_000)
    assert info.value.code == "too_large"
    assert info.value.message == (f"zstd payload declares {len(npy.getvalue())} bytes; the bound is 100000 "
                                  "(DARKROOM_MAX_PAYLOAD_BYTES)")
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress(npy.getvalue())
    with pytest.raises(InvalidInput, match="does not declare its size"):
        unzstd(unsized, max_bytes=10_000_000)
    with pytest.raises(InvalidInput, match="^payload is not a zstd frame"):
        unzstd(b"not zstd at all", max_bytes=10_000_000)
    assert unzstd(packed, max_bytes=10_000_000) == npy.getvalue()
