"""RabbitMQ as the broker (DARKROOM_BROKER_URL=amqp://...): Debian's rabbitmq-server started on free loopback
ports, moto's S3, real `darkroom worker` processes.  Quorum queues, publisher confirms, retries' countdowns
through Celery's native delayed delivery, a killed worker's request back at once (no visibility timeout),
and the exporter reading the queues from the management API."""

from __future__ import annotations

import json
import os
import signal
import uuid

import numpy as np
import pytest

import darkroom
from darkroom.pipeline import paths
from waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:darkroom. (cannot send|sending resumed):darkroom.DarkroomWarning"),
]


def test_a_worker_killed_mid_request_has_it_back_at_once_and_it_converts_once(rabbit_fleet):
    """No visibility timeout on RabbitMQ: the dead worker's connection closes and its message is requeued."""
    first = rabbit_fleet.start_worker(pool="prefork")
    rng = np.random.default_rng(12)
    images = [rng.integers(0, 256, (384, 384, 3), np.uint8) for _ in range(24)]
    run = darkroom.init(project="rabbit-kill")
    run.log({"big": [darkroom.Image(a) for a in images]})
    assert run._sender.flush(timeout=60)
    reader = darkroom.Api().run(run.path)
    prefix = paths.manifests_prefix(reader.project, reader.run)
    wait_for(lambda: any(True for _ in reader.storage.list(prefix)), "the first item's manifest", timeout=60,
             context=first.log_path.read_text)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert len(list(reader.storage.list(prefix))) < 24, "the kill came too late to interrupt the request"
    # The default visibility timeout (an hour) is in force: only RabbitMQ's requeue can bring it back in time.
    assert "DARKROOM_VISIBILITY_TIMEOUT" not in rabbit_fleet.env
    rabbit_fleet.start_worker()
    report = run.finish(timeout=120, quiet=True)
    assert (report.converted, report.failed, report.pending) == (24, [], 0)
    manifests = reader.manifests()
    assert sorted(m["index"] for m in manifests) == list(range(24)) and {m["revision"] for m in manifests} == {1}


def test_retries_wait_out_their_countdown_in_the_broker_while_s3_is_down_and_nothing_is_lost(rabbit_fleet):
    rng = np.random.default_rng(13)
    run = darkroom.init(project=f"rabbit-s3-{uuid.uuid4().hex[:6]}")
    for step in range(4):
        run.log({"img": darkroom.Image(rng.integers(0, 256, (16, 16, 3), np.uint8))})
    assert run._sender.flush(timeout=60)
    rabbit_fleet.s3.stop()
    try:
        worker = rabbit_fleet.start_worker()
        wait_for(lambda: "] retry: Retry in" in worker.log_path.read_text(), "a task's retry in the worker's log",
                 timeout=60, context=worker.log_path.read_text)
    finally:
        rabbit_fleet.s3.start()
    report = run.finish(timeout=180, quiet=True)
    assert (report.converted, report.failed, report.pending) == (4, [], 0)
    assert "Failed to bind queue" not in worker.log_path.read_text()  # every queue on the delayed exchanges


def test_items_convert_through_quorum_queues_and_the_exporter_reads_them_from_the_management_api(
        rabbit_fleet, rabbit_server, tmp_path):
    import subprocess
    import sys

    import amqp
    from test_metrics import free_port, promtool_check, samples, scrape

    from darkroom.pipeline.queue import make_celery
    from darkroom.pipeline.settings import Settings

    def exporter(management_url: str) -> tuple[subprocess.Popen, int]:
        port = free_port()
        log = tmp_path / f"exporter-{port}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "darkroom._cli", "exporter", "--host", "127.0.0.1", "--port", str(port),
             "--no-storage", "--rabbitmq-management-url", management_url],
            env=rabbit_fleet.subprocess_env(), stdout=open(log, "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for(lambda: b"darkroom exporter: http" in log.read_bytes(), "the exporter to serve", timeout=60,
                 context=log.read_text)
        return proc, port

    image = (("queue", "darkroom.image"),)
    live, port = exporter(rabbit_server.management_url)
    # A management API that does not answer: the broker is down as far as the exporter can tell.
    dead, dead_port = exporter(f"http://guest:guest@127.0.0.1:{free_port()}/api/queues/%2F")
    try:
        rng = np.random.default_rng(14)
        run = darkroom.init(project="rabbit-exported")
        for step in range(3):
            run.log({"img": darkroom.Image(rng.integers(0, 256, (16, 16, 3), np.uint8))})
        run.log({"page": darkroom.Html("<p>one for the data queue</p>")})
        assert run._sender.flush(timeout=60)
        # Both counts from one scrape: the management API refreshes a queue's figures every few seconds, and
        # the first sample that shows the 3 new messages may still carry the previous test's unacknowledged one.
        got = wait_for(lambda: (s := samples(scrape(port)[1])).get(("darkroom_queue_messages_waiting", image)) == 3
                       and s.get(("darkroom_queue_messages_unacknowledged", image)) == 0 and s,
                       "3 messages waiting and none unacknowledged in the exporter's metrics", timeout=30,
                       context=lambda: scrape(port)[1].decode())
        # `darkroom status` reads the same depths over AMQP, past the queues not declared yet (a failed
        # passive declare closes its channel).
        status = json.loads(subprocess.run([sys.executable, "-m", "darkroom._cli", "status", "--json"],
                                           env=rabbit_fleet.subprocess_env(), capture_output=True, text=True,
                                           timeout=120, check=True).stdout)
        assert status["queues"] == {"darkroom.image": 3, "darkroom.video": 0, "darkroom.audio": 0,
                                    "darkroom.molecule": 0, "darkroom.object3d": 0, "darkroom.data": 1}
        assert got[("darkroom_broker_up", ())] == 1
        assert not [k for k in got if k[0] == "darkroom_queue_oldest_message_age_seconds"]  # not readable on AMQP
        promtool_check(scrape(port)[1])

        # A consumer holding a message without acknowledging it (as a worker converting it does):
        # unacknowledged 1, waiting 2, for as long as it holds it.
        app = make_celery(Settings.from_env())
        with app.connection_for_write() as connection:
            held = connection.default_channel.basic_get("darkroom.image", no_ack=False)
            assert held is not None
            wait_for(lambda: (s := samples(scrape(port)[1])).get(("darkroom_queue_messages_unacknowledged", image))
                     == 1 and s[("darkroom_queue_messages_waiting", image)] == 2,
                     "the held message, unacknowledged", timeout=30, context=lambda: scrape(port)[1].decode())
            connection.default_channel.basic_reject(held.delivery_tag, requeue=True)
        rabbit_fleet.start_worker()
        assert run.finish(timeout=120, quiet=True).converted == 3
        # Through a quorum queue: declaring it again as a classic queue is refused as inequivalent.
        assert app.conf.broker_transport_options["confirm_publish"] is True
        with app.connection_for_write() as connection:
            with pytest.raises(amqp.exceptions.PreconditionFailed, match="x-queue-type"):
                connection.default_channel.queue_declare("darkroom.image", durable=True, auto_delete=False)

        status, body = scrape(dead_port)
        assert status == 200 and samples(body)[("darkroom_broker_up", ())] == 0
        promtool_check(body)
    finally:
        for proc in (live, dead):
            proc.terminate()
            proc.wait(timeout=30)


def test_an_item_that_ends_its_pool_process_twice_fails_through_crash_marks_kept_in_storage(rabbit_fleet):
    """No Redis next to RabbitMQ: the marks live in the storage (workers/crash_marks.py, StorageMarks)."""
    from pathlib import Path

    from darkroom.pipeline.errors import NotFound
    from darkroom.workers.crash_marks import StorageMarks

    worker = rabbit_fleet.start_worker(pool="prefork")
    run = darkroom.init(project="rabbit-poison")
    storage = darkroom.Api().storage
    mark = StorageMarks.key(f"rabbit-poison/{run.id}/0/batch/1/r1")

    def starts() -> int:
        try:
            return int(storage.get(mark))
        except NotFound:
            return 0

    # ~1 s of PNG, far longer than wait_for's checks: the child is still converting it when killed.
    slow = np.random.default_rng(0).integers(0, 256, (2048, 2048, 3), np.uint8)
    run.log({"batch": [darkroom.Image(np.full((4, 4), 2, np.uint8)), darkroom.Image(slow),
                       darkroom.Image(np.full((4, 4), 3, np.uint8))]})
    for start in (1, 2):  # each start of the item: kill the child converting it
        wait_for(lambda: starts() == start, f"start {start} of item batch[1] ({mark})", timeout=90,
                 every=0.05, context=worker.log_path.read_text)
        for pid in Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split():
            os.kill(int(pid), signal.SIGKILL)
    report = run.finish(timeout=120, quiet=True)
    reader = darkroom.Api().run(run.path)
    assert [m["status"] for m in reader.manifests()] == ["ok", "failed", "ok"]
    assert reader.manifest(0, "batch", 1)["error"]["code"] == "worker_crashed"
    assert (report.converted, len(report.failed), report.pending) == (2, 1, 0)
    assert starts() == 0
