"""`darkroom export-video`: the images of one key over the steps as a video, decoded back with PyAV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from click.testing import CliRunner

import darkroom
from darkroom._cli import main


def cli(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def run(embedded_env: dict[str, str]) -> str:
    """10 steps of a flat colour under "frame", of two sizes; step 4 fails (a file that is no image)."""
    import io

    r = darkroom.init(project="movie", id="m1")
    for step in range(10):
        size = (20, 30) if step % 2 else (25, 17)
        picture = np.zeros((*size, 3), np.uint8)
        picture[..., 1] = 20 * step
        value = darkroom.Image(io.BytesIO(b"not a picture")) if step == 4 else darkroom.Image(picture)
        r.log({"frame": [darkroom.Image(np.full((4, 4), 7, np.uint8)), value]})
    report = r.finish(quiet=True)
    assert [f.step for f in report.failed] == [4]
    return r.path


def frames_of(path: Path) -> tuple[Any, list[np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream, [f.to_ndarray(format="rgb24") for f in container.decode(stream)]


def test_each_step_is_a_frame_padded_to_the_largest_even_size(run: str, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    done = json.loads(cli("export-video", run, str(out), "--key", "frame", "--index", "1", "--fps", "5",
                          "--json").output)
    assert done == {"file": str(out), "format": "mp4", "codec": "h264", "frames": 9, "width": 30, "height": 26,
                    "fps": 5.0, "bytes": out.stat().st_size, "steps": [0, 9], "left_out": 1}
    stream, frames = frames_of(out)
    assert (stream.codec_context.name, stream.width, stream.height, float(stream.average_rate)) == ("h264", 30, 26, 5.0)
    steps = [s for s in range(10) if s != 4]
    assert len(frames) == len(steps)
    for step, frame in zip(steps, frames):
        height, width = (20, 30) if step % 2 else (25, 17)
        assert abs(int(frame[height // 2, width // 2, 1]) - 20 * step) <= 4, step  # H.264 is lossy
        assert frame[height + 1:, :, :].max(initial=0) <= 16 and frame[:, width + 1:, :].max(initial=0) <= 16
    assert not list(tmp_path.glob("*.part"))


def test_a_gif_keeps_odd_sizes_and_steps_choose_the_frames(run: str, tmp_path: Path) -> None:
    out = tmp_path / "clip.gif"
    text = cli("export-video", run, str(out), "--key", "frame", "--index", "1", "--steps", "5:").output
    assert "5 frames (steps 5..9) of 30x25 at 4 fps" in text
    _, frames = frames_of(out)
    assert len(frames) == 5 and frames[0].shape == (25, 30, 3)


def test_refusals_say_what_is_accepted(run: str, tmp_path: Path) -> None:
    result = cli("export-video", run, str(tmp_path / "clip.avi"), "--key", "frame", code=1)
    assert "the extension '.avi' is not a video format; accepted: .mp4, .webm, .gif" in result.output
    result = cli("export-video", run, str(tmp_path / "clip.mp4"), "--key", "nope", code=1)
    assert "run movie/m1 has no converted image under key 'nope' (index 0); `darkroom show` lists its keys" in result.output
    result = cli("export-video", "movie", str(tmp_path / "clip.mp4"), "--key", "frame", code=1)
    assert "is not 'project/run_id'" in result.output
