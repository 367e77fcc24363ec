import socket
import warnings

import numpy as np

import darkroom
from waiting import wait_for


def test_finish_with_the_storage_unreachable_returns_a_report_instead_of_raising(clean_env, monkeypatch):
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DARKROOM_STORAGE_URL", "s3://darkroom-nowhere/x")
    monkeypatch.setenv("DARKROOM_S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    run = darkroom.init(project="outage")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run.log({"img": darkroom.Image(np.zeros((4, 4), dtype=np.uint8))})
        # The sender's first attempt has failed (and warned) before finish's own 3 s start.
        wait_for(lambda: run._sender.outage, "the sender to report the storage outage")
        report = run.finish(timeout=3, quiet=True)
    assert report.converted == 0 and report.pending == 1 and report.spooled > 0
    texts = [str(w.message) for w in record]
    assert any("stay in the spool" in t for t in texts)
    assert any("cannot read the run's manifests yet" in t for t in texts)
    assert (run.dir / "spool").is_dir() and any((run.dir / "spool").glob("*.json"))
