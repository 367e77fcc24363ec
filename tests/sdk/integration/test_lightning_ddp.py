"""DarkroomLogger under real DDP (2 CPU processes, gloo on loopback): one run, made and filled by rank 0 only."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import stored_run

SCRIPT = Path(__file__).with_name("ddp_fit.py")


def free_port() -> int:
    # Not conftest's: a whole-suite run has several modules named conftest, and
    # `from conftest import` gets whichever was imported first.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_only_rank_zero_makes_the_run_and_rank_one_neither_logs_nor_blocks(embedded_env, tmp_path):
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "root")], env=env, capture_output=True,
                          text=True, timeout=240, cwd=tmp_path)
    said = f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-3000:]}"
    assert done.returncode == 0, said
    # Both ranks write to one stdout, so their lines may run together: each is in <...>.
    modes = sorted(re.findall(r"<rank (\d): mode ([a-z]+)>", done.stdout))
    assert modes == [("0", "online"), ("1", "disabled")], said
    (path,) = re.findall(r"<run (ddp/[a-z0-9]+)>", done.stdout)

    assert stored_run.run_paths() == [path]
    assert [p.name for p in (tmp_path / "runs" / "ddp").iterdir()] == [path.split("/")[1]]
    reader = stored_run.reader(path)
    rows = list(reader.history())
    assert [row["_step"] for row in rows] == [0, 1, 2, 3]
    from PIL import Image

    for row in rows:
        (sample,) = row["samples"]
        assert sample["caption"] == "rank 0"
        with Image.open(io.BytesIO(reader.read(sample))) as image:
            np.testing.assert_array_equal(np.array(image), np.full((4, 4), 1, np.uint8))
