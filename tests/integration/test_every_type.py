"""Every media type in one run, through each broker (Redis, RabbitMQ), S3 and worker processes (one per queue group)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import darkroom

pytestmark = pytest.mark.integration


def test_every_media_type_in_one_run_is_converted_by_the_fleet(any_fleet):
    fleet = any_fleet
    fleet.start_worker(queues="image,data", wait=False)
    fleet.start_worker(queues="video,audio", wait=False)
    last = fleet.start_worker(queues="molecule,object3d", wait=False)
    for proc in fleet.workers:
        fleet.wait_ready(proc)
    assert last.poll() is None

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (8, 3, 32, 48), dtype=np.uint8)
    tone = np.sin(np.linspace(0, 440 * 2 * np.pi, 8000)).astype(np.float32) * 0.5
    table = darkroom.Table(columns=["id", "picture"])
    table.add_data(0, darkroom.Image(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)))
    run = darkroom.init(project="every")
    run.log({
        "image": darkroom.Image(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)),
        "gif": darkroom.Video(frames, fps=8, format="gif"),
        "mp4": darkroom.Video(frames, fps=8, format="mp4"),
        "audio": darkroom.Audio(tone, sample_rate=8000),
        "hist": darkroom.Histogram(rng.normal(size=1000)),
        "table": table,
        "html": darkroom.Html("<p>hello</p>"),
        "molecule": darkroom.Molecule.from_smiles("CCO"),
        "cloud": darkroom.Object3D(rng.normal(size=(500, 3))),
        "roc": darkroom.plot.roc_curve([0, 1, 1, 0], [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9], [0.6, 0.4]]),
    })
    report = run.finish(timeout=240, quiet=True)
    assert report.failed == [] and report.pending == 0, report
    reader = darkroom.Api().run(run.path)
    kinds = {m["key"]: m["kind"] for m in reader.manifests()}
    assert kinds == {"image": "image", "gif": "video", "mp4": "video", "audio": "audio", "table": "table",
                     "_table/table/picture": "image", "html": "html", "molecule": "molecule",
                     "cloud": "object3d", "roc": "plot"}
    by_key = {m["key"]: m for m in reader.manifests()}
    assert by_key["gif"]["artifact"]["frames"] == 8 and by_key["mp4"]["artifact"]["format"] == "mp4"
    assert by_key["audio"]["artifact"]["samples"] == 8000 and by_key["audio"]["artifact"]["sample_rate"] == 8000
    assert by_key["molecule"]["artifact"]["atoms"] == 9  # CCO with hydrogens
    assert len(json.loads(reader.read(by_key["cloud"]))) == 500
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(reader.read(by_key["audio"])))
    assert rate == 8000 and len(samples) == 8000
    row = next(reader.scan_history())
    assert row["hist"]["_type"] == "histogram" and sum(row["hist"]["values"]) == 1000
    assert reader.table(by_key["table"])["data"][0][1]["status"] == "ok"
