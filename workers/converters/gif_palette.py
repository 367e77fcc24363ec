"""GIF colours: one adaptive palette of at most 256 colours per clip, chosen for the least RGB error.

A clip with at most 256 distinct colours keeps them exactly (gray clips
always do).  Otherwise the palette is k-means in RGB on a sample of every
frame's pixels: seeded by Pillow's fast octree, refined by Lloyd iterations
whose nearest-colour step is Pillow's palette mapping (C, with a 6-bit
cache).  Frames are then mapped to it without dithering.

Why not FFmpeg's palettegen + paletteuse (measured with PyAV 18 / FFmpeg 8,
64 frames of 128x128, bench/video.py): since FFmpeg 6 both work in OkLab,
which pleases the eye but not the RGB error a PSNR measures.  On a static
gradient with moving shapes they reached 33.6 dB against Pillow's per-frame
palettes' 35.6 dB (this module: 35.7 dB); on a gradient that changes every
frame 26.4 dB against Pillow's 31.8 dB (this module: 29 dB; one palette for
a whole clip cannot follow it, see docs/media/video.md), and palettegen took
2.8 s on that clip's ~750,000 distinct colours.  Dithering (bayer,
sierra2_4a, floyd_steinberg) lowered the PSNR every time (-0.1 to -2 dB).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Pixels sampled from the clip to choose the palette, spread over every frame.
# 65,536 pixels and 8 iterations: within 0.2 dB of 262,144 and 16 on the clips above, in a quarter of the time.
SAMPLE_PIXELS = 65_536
ITERATIONS = 8
COLOURS = 256


class Palette:
    """A clip's palette and the mapping of its frames to palette indices."""

    def __init__(self, colours: np.ndarray, exact: bool):
        from PIL import Image

        self.colours = colours  # (n, 3) uint8, n <= 256
        self.exact = exact
        self._packed = _pack(colours)  # sorted when exact: searchsorted finds each colour
        self._image = Image.new("P", (1, 1))
        self._image.putpalette(colours.tobytes())

    def argb(self) -> np.ndarray:
        """The palette as PyAV's pal8 frames take it: (256, 4) ARGB; unused entries transparent black."""
        table = np.zeros((COLOURS, 4), np.uint8)
        table[: len(self.colours), 0] = 255
        table[: len(self.colours), 1:] = self.colours
        return table

    def indices(self, frame: np.ndarray) -> np.ndarray:
        """(H, W) palette indices of an (H, W, 3) uint8 frame."""
        if self.exact:
            return np.searchsorted(self._packed, _pack(frame)).astype(np.uint8).reshape(frame.shape[:2])
        from PIL import Image

        mapped = Image.fromarray(frame).quantize(palette=self._image, dither=Image.Dither.NONE)
        return np.asarray(mapped)


def clip_palette(frame_at: Callable[[int], np.ndarray], frames: int) -> Palette:
    """The palette of a clip whose frame t is ``frame_at(t)`` ((H, W, 3) uint8, reused buffers allowed)."""
    first = frame_at(0)
    pixels = first.shape[0] * first.shape[1]
    per_frame = min(pixels, -(-SAMPLE_PIXELS // frames))
    rng = np.random.default_rng(0)  # fixed: the same clip always gets the same palette (and artifact)
    parts = []
    for t in range(frames):
        flat = frame_at(t).reshape(-1, 3)
        # A copy either way: frame_at may reuse its buffer for the next frame.
        parts.append(flat.copy() if per_frame == pixels else flat[rng.integers(0, pixels, per_frame)])
    sample = np.concatenate(parts)
    if len(np.unique(_pack(sample))) <= COLOURS:
        exact = _distinct_colours(frame_at, frames)
        if exact is not None:
            return Palette(exact, exact=True)
    return Palette(_kmeans(sample), exact=False)


def _distinct_colours(frame_at: Callable[[int], np.ndarray], frames: int) -> np.ndarray | None:
    """Every colour of the clip, sorted by packed value, or None if there are more than 256."""
    seen = np.empty(0, np.int32)
    for t in range(frames):
        packed = _pack(frame_at(t))
        if len(seen):  # a lookup in <= 256 sorted colours, cheaper than sorting every frame
            found = seen[np.minimum(np.searchsorted(seen, packed), len(seen) - 1)] == packed
            packed = packed[~found]
        if len(packed):
            seen = np.union1d(seen, packed)
            if len(seen) > COLOURS:
                return None
    return np.stack([(seen >> 16) & 255, (seen >> 8) & 255, seen & 255], axis=1).astype(np.uint8)


def _kmeans(sample: np.ndarray) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(sample.reshape(1, -1, 3)))
    seeded = image.quantize(COLOURS, method=Image.Quantize.FASTOCTREE)
    colours = np.frombuffer(bytes(seeded.getpalette() or []), np.uint8).reshape(-1, 3)[:COLOURS].copy()
    values = sample.astype(np.float64)
    for _ in range(ITERATIONS):
        target = Image.new("P", (1, 1))
        target.putpalette(colours.tobytes())
        nearest = np.asarray(image.quantize(palette=target, dither=Image.Dither.NONE)).ravel()
        counts = np.bincount(nearest, minlength=len(colours))[: len(colours)]
        sums = np.stack([np.bincount(nearest, weights=values[:, c], minlength=len(colours))[: len(colours)]
                         for c in range(3)], axis=1)
        used = counts > 0  # an unused colour keeps its place: it may be nearest after the others move
        moved = np.clip(np.rint(sums[used] / counts[used, None]), 0, 255).astype(np.uint8)
        if np.array_equal(moved, colours[used]):
            break
        colours[used] = moved
    return colours


def _pack(rgb: np.ndarray) -> np.ndarray:
    flat = rgb.reshape(-1, 3).astype(np.int32)
    return (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
