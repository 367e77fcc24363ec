"""Video: darkroom's encoders against bare PyAV loops and Pillow's GIF, and log() against the encode.

One run prints, for a 64-frame 128x128 clip of gradients and moving shapes
(a static colour gradient with a disk, a square and a ring moving over it):

1. darkroom's worker-side encode (the converter function called directly, on
   the (T,C,H,W) uint8 array as the worker receives it) / a bare PyAV loop
   written here with the same codec settings.  MP4: frames transposed to RGB
   and sent to libx264 as darkroom's ENCODERS say.  GIF: PyAV's own way to an
   adaptive palette, FFmpeg's palettegen + paletteuse filter graph (defaults:
   stats_mode=full, dither=sierra2_4a), palette first, then frames streamed.
   Bar: <= 1.0.
2. `run.log({"clip": Video(clip)})` on the training thread (embedded run; the
   timed call builds the Video, i.e. its snapshot copy, and logs it) / the
   clip's encode time from (1).  Bar: <= 1%.  Printed with it, timed the
   same way between training steps: one read pass over the clip
   (`clip.max()`) and a bare copy of it into a buffer kept from call to call
   (`np.copyto`), the least a snapshot that reads or copies the caller's
   array can cost on this machine.
3. GIF: mean PSNR of darkroom's GIF, decoded, against the source frames, and
   the same for Pillow's adaptive-palette GIF (`Image.save(save_all=True,
   append_images=...)`); time darkroom / Pillow.  Bar: <= 0.25 and PSNR >=
   Pillow's.  Also printed for a harder clip whose gradient changes colour
   every frame, where one palette per clip cannot match Pillow's palette per
   frame (docs/media/video.md).

Times are medians of --runs runs.  Usage: python bench/video.py [--runs 5] [--logs 40]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np


def gradient_clip(frames: int = 64, size: int = 128, shifting: bool = False) -> np.ndarray:
    """(T, H, W, 3) uint8: a colour gradient with a disk, a square and a ring moving over it."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    out = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        p = t / frames
        if shifting:  # every pixel of the background changes colour every frame
            image = np.stack([x * 0.8 + 0.2 * np.sin(2 * np.pi * (p + y)), y * 0.7 + 0.3 * p,
                              0.5 + 0.5 * np.cos(2 * np.pi * (x + y + p))], axis=-1)
        else:
            image = np.stack([x, y, 1 - 0.5 * (x + y)], axis=-1)
        cx, cy = 0.2 + 0.6 * p, 0.5 + 0.3 * np.sin(2 * np.pi * p)
        image[(x - cx) ** 2 + (y - cy) ** 2 < 0.12 ** 2] = (1.0, 0.2, 0.1)
        top = int(size * (0.7 - 0.5 * p))
        image[top: top + size // 6, size // 10: size // 10 + size // 6] = (0.1, 0.9, 0.3)
        image[np.abs(np.hypot(x - 0.7, y - 0.3) - 0.1 - 0.08 * p) < 0.02] = (0.95, 0.95, 0.2)
        out[t] = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    return out


def timed(fn: Callable[[], Any], runs: int) -> tuple[Any, float]:
    """The last result and the median time of `runs` calls."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


# -- darkroom and the bare loops ------------------------------------------------------------------


def worker_item(channels_first: np.ndarray) -> Any:
    """The item a worker receives: the array as the sender serialised it (.npy bytes)."""
    from darkroom.workers.converters import ItemInput, Payload

    buf = io.BytesIO()
    np.save(buf, channels_first, allow_pickle=False)
    return ItemInput(Payload(buf.getvalue(), "application/x-npy", "npy"))


def darkroom_encode(item: Any, fmt: str) -> bytes:
    from darkroom.pipeline.settings import Limits
    from darkroom.workers.converters.video import VideoOptions, convert

    return convert(item, VideoOptions(format=fmt, fps=4), Limits()).data


def bare_mp4(channels_first: np.ndarray, fps: int = 4) -> bytes:
    import av

    from darkroom.workers.converters.video import ENCODERS

    settings = ENCODERS["mp4"]
    frames, _, height, width = channels_first.shape
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream(settings.codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, settings.pix_fmt
        stream.options = dict(settings.options)
        for t in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(channels_first[t].transpose(1, 2, 0)),
                                               format="rgb24")
            frame.pts = t
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def bare_gif(channels_first: np.ndarray, fps: int = 4) -> bytes:
    """An adaptive-palette GIF the FFmpeg way: palettegen over the clip, then paletteuse frame by frame."""
    import av

    frames, _, height, width = channels_first.shape
    base = Fraction(1, fps)

    def rgb(t: int) -> Any:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(channels_first[t].transpose(1, 2, 0)),
                                           format="rgb24")
        frame.pts, frame.time_base = t, base
        return frame

    graph = av.filter.Graph()
    source = graph.add_buffer(width=width, height=height, format="rgb24", time_base=base)
    gen, sink = graph.add("palettegen"), graph.add("buffersink")
    source.link_to(gen)
    gen.link_to(sink)
    graph.configure()
    for t in range(frames):
        source.push(rgb(t))
    source.push(None)
    palette = sink.pull()

    graph = av.filter.Graph()
    source = graph.add_buffer(width=width, height=height, format="rgb24", time_base=base)
    palette_source = graph.add_buffer(width=palette.width, height=palette.height, format=palette.format.name,
                                      time_base=base)
    use, sink = graph.add("paletteuse"), graph.add("buffersink")
    source.link_to(use, 0, 0)
    palette_source.link_to(use, 0, 1)
    use.link_to(sink)
    graph.configure()
    palette.pts = 0
    palette_source.push(palette)
    palette_source.push(None)
    buf = io.BytesIO()
    with av.open(buf, "w", format="gif") as out:
        stream = out.add_stream("gif", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "pal8"

        def drain() -> None:
            while True:
                try:
                    out.mux(stream.encode(sink.pull()))
                except (av.error.BlockingIOError, av.error.EOFError):
                    return

        for t in range(frames):
            source.push(rgb(t))
            drain()
        source.push(None)
        drain()
        out.mux(stream.encode(None))
    return buf.getvalue()


def pillow_gif(frames: np.ndarray, fps: int = 4) -> bytes:
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
    return buf.getvalue()


def gif_frames(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        out = []
        for index in range(image.n_frames):
            image.seek(index)
            out.append(np.asarray(image.convert("RGB")))
    return np.stack(out)


def mean_psnr(decoded: np.ndarray, source: np.ndarray) -> float:
    assert decoded.shape == source.shape, (decoded.shape, source.shape)
    mse = ((decoded.astype(np.float64) - source) ** 2).reshape(len(source), -1).mean(axis=1)
    return float(np.mean(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))))


# -- log() on the training thread -------------------------------------------------------------


def log_time(channels_first: np.ndarray, fmt: str, calls: int) -> tuple[float, float]:
    """Medians of (Video() + log(), Video() alone: the snapshot copy)."""
    import darkroom

    weights = np.random.default_rng(0).standard_normal((384, 384)).astype(np.float32)
    tmp = tempfile.mkdtemp(prefix="darkroom-bench-")
    run = darkroom.init(project="bench", dir=f"{tmp}/runs", storage_url=f"file://{tmp}/data")
    times, snapshots = [], []
    for step in range(calls):
        channels_first[0, 0, 0, 0] = step % 256  # the caller mutates its array: the snapshot must copy
        start = time.perf_counter()
        video = darkroom.Video(channels_first, fps=4, format=fmt)
        built = time.perf_counter()
        run.log({"clip": video})
        times.append(time.perf_counter() - start)
        snapshots.append(built - start)
        del video
        _train_step(weights)  # the embedded worker converts meanwhile
    report = run.finish(quiet=True)
    assert report.converted == calls and not report.failed, report
    return statistics.median(times), statistics.median(snapshots)


def floor_times(channels_first: np.ndarray, calls: int) -> tuple[float, float]:
    """Medians of (one read pass over the clip, a bare copy into a reused buffer), between training steps."""
    weights = np.random.default_rng(0).standard_normal((384, 384)).astype(np.float32)
    kept = np.empty_like(channels_first)
    reads, copies = [], []
    for step in range(calls):
        for times, touch in ((reads, channels_first.max), (copies, lambda: np.copyto(kept, channels_first))):
            channels_first[0, 0, 0, 0] = step % 256
            start = time.perf_counter()
            touch()
            times.append(time.perf_counter() - start)
            _train_step(weights)
    return statistics.median(reads), statistics.median(copies)


def _train_step(weights: np.ndarray, seconds: float = 0.15) -> None:
    """~0.15 s of numpy work, as a training step would do (bench/log_overhead.py does the same)."""
    end = time.perf_counter() + seconds
    x = weights
    while time.perf_counter() < end:
        x = np.tanh(x @ weights * 0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--logs", type=int, default=40, help="log() calls timed per format")
    args = parser.parse_args()
    import av

    av.logging.set_level(av.logging.ERROR)

    frames = gradient_clip()
    channels_first = np.ascontiguousarray(frames.transpose(0, 3, 1, 2))
    print(f"clip: {frames.shape[0]} frames of {frames.shape[2]}x{frames.shape[1]} RGB; medians of {args.runs} runs")

    print("\n(1) worker-side encode / bare PyAV loop with the same settings  (bar: <= 1.0)")
    encode_time = {}
    item = worker_item(channels_first)
    for fmt, bare in (("gif", bare_gif), ("mp4", bare_mp4)):
        darkroom_encode(item, fmt)  # warm: imports, codec initialisation
        _, ours = timed(lambda: darkroom_encode(item, fmt), args.runs)
        data, theirs = timed(lambda: bare(channels_first), args.runs)
        encode_time[fmt] = ours
        extra = f", palettegen+paletteuse PSNR {mean_psnr(gif_frames(data), frames):.2f} dB" if fmt == "gif" else ""
        print(f"  {fmt}: darkroom {ours * 1e3:7.1f} ms, bare PyAV {theirs * 1e3:7.1f} ms, "
              f"ratio {ours / theirs:.3f}{extra}")

    print("\n(2) log() on the training thread (embedded run) / the clip's encode  (bar: <= 1%)")
    for name, floor in zip(("one read pass over the clip", "a bare copy into a reused buffer"),
                           floor_times(channels_first.copy(), args.logs)):
        print(f"  {name}, between training steps: {floor * 1e3:.3f} ms "
              f"({100 * floor / encode_time['gif']:.2f}% of gif, {100 * floor / encode_time['mp4']:.2f}% of mp4)")
    for fmt in ("gif", "mp4"):
        logged, snapshot = log_time(channels_first.copy(), fmt, args.logs)
        print(f"  {fmt}: log() median {logged * 1e3:.3f} ms over {args.logs} calls (Video() alone, the "
              f"{channels_first.nbytes / 2**20:.0f} MiB snapshot copy: {snapshot * 1e3:.3f} ms), encode "
              f"{encode_time[fmt] * 1e3:.1f} ms, ratio {100 * logged / encode_time[fmt]:.2f}%")

    print("\n(3) GIF: darkroom vs Pillow's adaptive palette  (bars: time <= 0.25, PSNR >= Pillow's)")
    for name, clip in (("gradient + moving shapes", frames), ("shifting gradient (harder)", gradient_clip(shifting=True))):
        clip_item = worker_item(np.ascontiguousarray(clip.transpose(0, 3, 1, 2)))
        ours_data, ours = timed(lambda: darkroom_encode(clip_item, "gif"), args.runs)
        pillow_data, pillow = timed(lambda: pillow_gif(clip), args.runs)
        ours_psnr, pillow_psnr = mean_psnr(gif_frames(ours_data), clip), mean_psnr(gif_frames(pillow_data), clip)
        print(f"  {name}: darkroom {ours_psnr:.2f} dB in {ours * 1e3:.0f} ms ({len(ours_data)} B), "
              f"Pillow {pillow_psnr:.2f} dB in {pillow * 1e3:.0f} ms ({len(pillow_data)} B); "
              f"time ratio {ours / pillow:.3f}, PSNR {ours_psnr - pillow_psnr:+.2f} dB")


if __name__ == "__main__":
    main()
