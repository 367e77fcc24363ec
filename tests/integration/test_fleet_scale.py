"""Many training jobs, many workers: 4 logging processes and 3 `darkroom worker` processes at once.

Every item logged by every process is converted exactly once (one task per
request across all workers, one manifest per item at revision 1) and none is
lost (every manifest and history row is there, every artifact decodes to what
was logged).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from collections import Counter

import numpy as np
import pytest
import soundfile
from PIL import Image as PILImage

import darkroom
from darkroom.pipeline import paths

pytestmark = pytest.mark.integration

JOBS = 4
STEPS = 20
EVERY = 5  # the cheap non-image kinds are logged every EVERY steps

# One training job: images every step (a list of two and a single one), a
# histogram (inline in the history row), and every EVERY steps an Html page,
# an audio clip and a point cloud.  Pixels come from a generator seeded with
# (job, step), so the test can rebuild what each job logged.
_JOB = textwrap.dedent("""
    import json, sys
    import numpy as np
    import darkroom

    job, steps, every = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    run = darkroom.init(project="scale", config={"job": job})
    for step in range(steps):
        rng = np.random.default_rng([job, step])
        row = {
            "loss": 1.0 / (step + 1),
            "pair": [darkroom.Image(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(2)],
            "solo": darkroom.Image(rng.integers(0, 256, (16, 24), dtype=np.uint8)),
            "hist": darkroom.Histogram(rng.normal(size=200)),
        }
        if step % every == 0:
            row["page"] = darkroom.Html(f"<p>job {job} step {step}</p>")
            row["tone"] = darkroom.Audio(rng.uniform(-0.5, 0.5, 800).astype(np.float32), sample_rate=8000)
            row["cloud"] = darkroom.Object3D(rng.normal(size=(50, 3)))
        run.log(row)
    report = run.finish(timeout=120, quiet=True)
    print(json.dumps({"run": run.path, "converted": report.converted, "failed": len(report.failed),
                      "pending": report.pending, "spooled": report.spooled}), flush=True)
""")

_RECEIVED = re.compile(r"Task darkroom\.convert\[([0-9a-f-]+)\] received")
_CONVERTED = re.compile(r"converted (\d+) item\(s\), (\d+) failed")


def _logged(job: int, step: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The pixels job `job` logged at `step`: the pair, then the single image."""
    rng = np.random.default_rng([job, step])
    pair = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2)]
    return pair, rng.integers(0, 256, (16, 24), dtype=np.uint8)


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(data)))


def test_four_logging_processes_and_three_workers_convert_every_item_exactly_once(fleet, tmp_path):
    # Three workers with different queue groups and pools; every queue is served by two of them.
    fleet.start_worker(queues="image,data", concurrency=2, wait=False)  # threads (the default for these)
    fleet.start_worker(queues="image,audio,object3d", wait=False)  # prefork, one child
    fleet.start_worker(queues="image,data,audio,object3d", wait=False)  # prefork, one child
    script = tmp_path / "job.py"
    script.write_text(_JOB)
    # The jobs start while the workers start: early requests wait in Redis.
    jobs = [subprocess.Popen([sys.executable, str(script), str(job), str(STEPS), str(EVERY)],
                             env=fleet.subprocess_env(), cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
            for job in range(JOBS)]
    for proc in fleet.workers:
        fleet.wait_ready(proc)
    reports = []
    for proc in jobs:
        out, err = proc.communicate(timeout=150)
        assert proc.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))

    sparse = len(range(0, STEPS, EVERY))
    per_job = 3 * STEPS + 3 * sparse  # items (manifests) one job logs
    requests_per_job = 2 * STEPS + 3 * sparse  # one request per key and step
    assert [(r["converted"], r["failed"], r["pending"], r["spooled"]) for r in reports] == \
        [(per_job, 0, 0, 0)] * JOBS, reports

    # Converted once: across all workers, each request was received once and
    # the items the workers report converting add up to what was logged.
    logs = [proc.log_path.read_text() for proc in fleet.workers]  # type: ignore[attr-defined]
    received = Counter(task for text in logs for task in _RECEIVED.findall(text))
    assert len(received) == JOBS * requests_per_job and set(received.values()) == {1}
    converted = [(int(ok), int(failed)) for text in logs for ok, failed in _CONVERTED.findall(text)]
    assert sum(ok for ok, _ in converted) == JOBS * per_job and sum(f for _, f in converted) == 0
    assert all(text.count("darkroom.convert[") for text in logs), "a worker served nothing"

    storage = darkroom.Api().storage
    for job, report in enumerate(reports):
        project, run_id = report["run"].split("/")
        reader = darkroom.Api().run(report["run"])
        assert reader.config == {"job": job}
        # One manifest object per (step, key, index), at revision 1: listed
        # from storage directly, not through the reader's newest-revision view.
        names: Counter[tuple[int, str, int]] = Counter()
        for key in storage.list(paths.manifests_prefix(project, run_id)):
            step, seg, name = key.rsplit("/", 3)[1:]
            assert name.endswith(".json") and name[:-5].isdigit(), f"not a first revision: {key}"
            names[(int(step), seg, int(name[:-5]))] += 1
        assert len(names) == per_job and set(names.values()) == {1}
        manifests = reader.manifests()
        assert len(manifests) == per_job
        assert {(m["status"], m["revision"]) for m in manifests} == {("ok", 1)}

        by_item = {(m["step"], m["key"], m["index"]): m for m in manifests}
        for step in range(STEPS):
            pair, solo = _logged(job, step)
            for index, pixels in enumerate(pair):
                np.testing.assert_array_equal(_decode(reader.read(by_item[(step, "pair", index)])), pixels)
            np.testing.assert_array_equal(_decode(reader.read(by_item[(step, "solo", 0)])), solo)
        for step in range(0, STEPS, EVERY):
            assert f"job {job} step {step}" in reader.read(by_item[(step, "page", 0)]).decode()
            samples, rate = soundfile.read(io.BytesIO(reader.read(by_item[(step, "tone", 0)])))
            assert (rate, len(samples)) == (8000, 800)
            assert len(json.loads(reader.read(by_item[(step, "cloud", 0)]))) == 50
        rows = list(reader.scan_history())
        assert [r["_step"] for r in rows] == list(range(STEPS))
        assert all(sum(r["hist"]["values"]) == 200 for r in rows)
