"""What `finish()` reports, read from the manifests a sender's requests produced (in-process dispatch)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import darkroom
from darkroom._dispatch import InProcessDispatch
from darkroom._payloads import MediaWork
from darkroom._report import wait_for_conversions
from darkroom._sender import Sender
from darkroom._spool import Spool
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import open_storage


@dataclasses.dataclass
class RunView:
    project: str = "p"
    id: str = "r"
    mode: str = "online"
    path: str = "p/r"


@pytest.fixture
def sender(tmp_path):
    settings = Settings(storage_url=f"file://{tmp_path}/store", spool_fsync=False)
    dispatch = InProcessDispatch(open_storage(settings.storage_url), settings, convert_on_send=True)
    made = Sender("p", "r", settings, Spool(tmp_path / "spool", fsync=False), dispatch=dispatch)
    yield made
    made.close(timeout=10)


def test_the_report_counts_converted_and_failed_items_and_names_each_failure(sender):
    good = darkroom.Image(np.zeros((3, 3), np.uint8))
    bad = darkroom.Image(np.full((3, 3), np.nan, np.float32), caption="nan")
    sender.put(MediaWork(0, "imgs", "image", [good, bad]))
    sender.put(MediaWork(1, "one", "image", [good]))
    assert sender.flush(timeout=20)
    expected = {(0, "imgs", 0): "image", (0, "imgs", 1): "image", (1, "one", 0): "image"}
    report = wait_for_conversions(RunView(), expected, sender, wait=True, timeout=20, quiet=True)
    assert (report.converted, report.pending, report.spooled) == (2, 0, 0)
    [failure] = report.failed
    assert (failure.key, failure.step, failure.index) == ("imgs", 0, 1)
    assert "NaN" in failure.message
    assert len(sender.spool) == 0  # the manifests acknowledged every request


def test_items_without_manifests_are_pending_when_the_wait_ends(sender):
    expected = {(5, "never", 0): "image"}
    report = wait_for_conversions(RunView(), expected, sender, wait=True, timeout=0.3, quiet=True)
    assert (report.converted, report.pending, report.failed) == (0, 1, [])
    assert not report.ok
