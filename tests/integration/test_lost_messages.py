"""Issue 16, item 4: a request the broker lost is sent again (end-to-end acknowledgement)."""

from __future__ import annotations

import numpy as np
import pytest

import darkroom

pytestmark = pytest.mark.integration


def test_item_4_messages_a_restarted_broker_lost_are_sent_again_and_converted(fleet, monkeypatch):
    monkeypatch.setenv("DARKROOM_RESEND_AFTER", "2")
    run = darkroom.init(project="lost")
    for step in range(5):
        run.log({"img": darkroom.Image(np.full((8, 8), step, np.uint8))})
    assert run._sender.flush(timeout=60)  # all five on the queue, no worker yet
    fleet.redis.flush()  # a Redis without persistence restarted: the messages are gone
    fleet.start_worker("image")
    report = run.finish(timeout=120, quiet=True)
    assert (report.converted, report.pending, report.spooled) == (5, 0, 0)
    assert not list((run.dir / "spool").glob("*.json"))  # acknowledged end to end: nothing left to resend
