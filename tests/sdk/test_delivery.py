"""The delivery loop, on the in-process dispatch: order, end-to-end acknowledgement, resends, poison entries."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from darkroom._delivery import Delivery
from darkroom._dispatch import InProcessDispatch
from darkroom._payloads import MediaWork, ObjectWork, PayloadBuilder, RowWork
from darkroom._spool import Spool
from darkroom.pipeline import paths
from darkroom.pipeline.reader import RunReader
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import open_storage

import darkroom


def wait_until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


class Bench:
    """A spool, a file storage and a delivery loop on an in-process dispatch."""

    def __init__(self, tmp_path: Path, **settings):
        self.settings = Settings(storage_url=f"file://{tmp_path}/store", spool_fsync=False, **settings)
        self.storage = open_storage(self.settings.storage_url, self.settings)
        self.spool = Spool(tmp_path / "spool", fsync=False)
        self.dispatch = InProcessDispatch(self.storage, self.settings)
        self.builder = PayloadBuilder("p", "r", self.storage, self.settings.limits)
        self.delivery = Delivery("p", "r", self.spool, self.storage, lambda: self.dispatch, self.settings)

    def log(self, *works) -> None:
        for record in self.builder.build(list(works)):
            self.spool.append(record.entry, record.payloads)
        self.delivery.wake()

    def stored(self) -> dict:
        found = RunReader(self.storage, "p", "r").entries()
        return {ident: entry.revision for ident, entry in found.items()}

    def close(self) -> None:
        self.delivery.close(timeout=10)


@pytest.fixture
def bench(tmp_path):
    made = []

    def make(**settings) -> Bench:
        made.append(Bench(tmp_path, **settings))
        return made[-1]

    yield make
    for b in made:
        b.close()


def image(value: int) -> darkroom.Image:
    return darkroom.Image(np.full((4, 4), value, np.uint8))


def test_objects_and_rows_reach_storage_and_leave_the_spool(bench):
    b = bench()
    b.log(RowWork({"_step": 0, "x": 1}), RowWork({"_step": 1, "x": 2}), ObjectWork("runs/p/r/run.json", b'{"a": 1}'))
    assert b.delivery.flush(time.monotonic() + 20, lambda: 0)
    assert json.loads(b.storage.get("runs/p/r/run.json")) == {"a": 1}
    assert [r["x"] for r in RunReader(b.storage, "p", "r").history()] == [1, 2]
    assert len(b.spool) == 0


def test_a_queued_request_stays_spooled_until_its_manifest_exists(bench):
    b = bench()
    b.log(MediaWork(0, "img", "image", [image(1)]))
    assert b.delivery.flush(time.monotonic() + 20, lambda: 0)
    assert len(b.dispatch.sent) == 1 and len(b.spool) == 1  # on the queue, not converted: kept
    assert b.delivery.queued() == 1 and b.delivery.unsent() == 0
    b.dispatch.run_worker()
    b.delivery.acknowledge(b.stored())
    assert len(b.spool) == 0 and b.delivery.queued() == 0


def test_a_request_the_broker_lost_is_sent_again_and_then_converted(bench):
    b = bench(resend_after=1)
    b.log(MediaWork(0, "img", "image", [image(2)]))
    wait_until(lambda: len(b.dispatch.sent) == 1, "the first send")
    assert b.dispatch.lose_all() == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wait_until(lambda: len(b.dispatch.sent) == 2, "the resend")
    resent = b.dispatch.sent[1]
    assert resent["items"][0]["new_payload"] is False  # a resend never skips the artifact lookup
    b.dispatch.run_worker()
    wait_until(lambda: len(b.spool) == 0, "the acknowledgement of the resent request")
    assert RunReader(b.storage, "p", "r").manifest(0, "img", 0)["status"] == "ok"


def test_an_outage_keeps_everything_spooled_and_sending_resumes_by_itself(bench):
    b = bench()
    b.dispatch.refuse = 2
    with pytest.warns(darkroom.DarkroomWarning, match="cannot send"):
        b.log(MediaWork(0, "a", "image", [image(3)]), MediaWork(1, "b", "image", [image(4)]))
        wait_until(lambda: b.delivery.outage is not None, "the outage")
        assert len(b.spool) == 2
        wait_until(lambda: len(b.dispatch.sent) == 2, "both requests after the outage", timeout=30)
    assert [r["key"] for r in b.dispatch.sent] == ["a", "b"]  # in order


def test_one_missing_spool_payload_fails_its_item_and_the_entries_after_it_go(bench):
    """Issue 16, item 6: one missing spool payload blocks every entry after it."""
    b = bench()
    b.delivery.online = False  # spool both before anything is sent
    b.log(MediaWork(0, "gone", "image", [image(5)]), MediaWork(1, "kept", "image", [image(6)]))
    first = b.spool.pending()[0]
    payload = b.spool.payload_path(first["payloads"][0]["name"])
    payload.unlink()
    b.delivery.online = True
    with pytest.warns(darkroom.DarkroomWarning, match="gone"):
        assert b.delivery.flush(time.monotonic() + 20, lambda: 0)
    b.dispatch.run_worker()
    reader = RunReader(b.storage, "p", "r")
    failed = reader.manifest(0, "gone", 0)
    assert failed["status"] == "failed" and failed["error"]["code"] == "missing_payload"
    assert str(payload) in failed["error"]["message"]
    assert reader.manifest(1, "kept", 0)["status"] == "ok"


def test_a_crafted_entry_is_dropped_with_a_warning_and_the_rest_is_sent(bench):
    b = bench()
    b.delivery.online = False
    b.spool.append({"type": "object", "key": "../../../etc/cron.d/x", "body": "evil"}, {})
    b.spool.append({"type": "convert", "request": {"schema": "nope"}, "payloads": []}, {})
    b.log(RowWork({"_step": 0, "x": 7}))
    b.delivery.online = True
    with pytest.warns(darkroom.DarkroomWarning, match="dropped"):
        assert b.delivery.flush(time.monotonic() + 20, lambda: 0)
    assert len(b.spool) == 0
    assert [r["x"] for r in RunReader(b.storage, "p", "r").history()] == [7]
    assert not any("cron" in key for key in b.storage.list(""))


def test_an_object_key_outside_the_run_is_refused(bench):
    b = bench()
    b.delivery.online = False
    b.spool.append({"type": "object", "key": paths.run_json_key("p", "other"), "body": "{}"}, {})
    b.delivery.online = True
    with pytest.warns(darkroom.DarkroomWarning, match="outside the run's folder"):
        assert b.delivery.flush(time.monotonic() + 20, lambda: 0)
    assert not b.storage.exists(paths.run_json_key("p", "other"))


def test_warming_while_the_delivery_thread_opens_the_dispatch_opens_no_second_one(bench):
    """A spare dispatch closed unused removed the embedded workers' marks folder under the kept one's."""
    import threading

    b = bench()
    opening, release, opened = threading.Event(), threading.Event(), []

    def slow_open():
        opened.append(threading.current_thread().name)
        opening.set()
        assert release.wait(20)
        return b.dispatch

    b.delivery.close(timeout=10)
    b.delivery = Delivery("p", "r", b.spool, b.storage, slow_open, b.settings)
    b.log(MediaWork(0, "img", "image", [image(1)]))
    assert opening.wait(20)  # the delivery thread is opening the dispatch for the first request
    b.delivery.warm()  # as the session's warm-up timer does, meanwhile
    release.set()
    assert b.delivery.flush(time.monotonic() + 20, lambda: 0)
    assert opened == ["darkroom-delivery"] and b.delivery.dispatch is b.dispatch
    assert len(b.dispatch.sent) == 1
