"""Prometheus metrics of a fleet: `darkroom worker --metrics-port` and `darkroom exporter`, scraped over HTTP
and checked with Debian's promtool, on real Redis, S3 and workers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

import darkroom
from waiting import wait_for

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int, path: str = "/metrics") -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a text exposition: (name, sorted labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def promtool_check(body: bytes) -> None:
    """`promtool check metrics` (Debian's prometheus package) on `body`: exit 0 and no lint problem."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is not installed; run the README's test command (bash .ci/test)")
    out = subprocess.run([exe, "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), (out.stdout, out.stderr)


def malformed_request(port: int) -> bytes:
    """Bytes that are not HTTP (a TLS hello's first bytes, then garbage), sent raw: the server's whole answer.

    `http.server` cannot tell the HTTP version of such a line, so it answers
    as HTTP/0.9 would: the error page alone, with no status line.
    """
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        while chunk := s.recv(4096):
            answer += chunk
    return answer


def test_a_worker_serves_its_processes_metrics_and_health_and_promtool_accepts_them(fleet):
    port = free_port()
    # A bound the worker holds and the training process does not: the 16x16 image fails in the worker.
    worker = fleet.start_worker(pool="prefork", concurrency=2, args=("--metrics-port", str(port)),
                                DARKROOM_MAX_PIXELS="100")
    status, body = scrape(port, "/healthz")
    assert (status, body) == (200, b"ok: consuming\n")
    run = darkroom.init(project="metered")
    for step in range(6):
        run.log({"img": darkroom.Image(np.full((8, 8, 3), step, np.uint8))})
    run.log({"big": darkroom.Image(np.zeros((16, 16), np.uint8))}, step=6)
    report = run.finish(timeout=120, quiet=True)
    assert (report.converted, len(report.failed)) == (6, 1)

    status, body = scrape(port)
    assert status == 200
    promtool_check(body)
    got = samples(body)
    assert got[("darkroom_items_converted_total", (("kind", "image"),))] == 6
    assert got[("darkroom_items_failed_total", (("code", "too_large"), ("kind", "image")))] == 1
    assert got[("darkroom_conversion_seconds_count", (("kind", "image"),))] == 7
    assert got[("darkroom_conversion_seconds_bucket", (("kind", "image"), ("le", "+Inf")))] == 7
    assert got[("darkroom_storage_read_bytes_total", ())] > 6 * 8 * 8 * 3  # the raw payloads at least
    assert got[("darkroom_storage_written_bytes_total", ())] > 0
    assert got[("darkroom_tasks_in_progress", ())] == 0
    # Other paths and requests that are not HTTP: answered, and the server goes on serving.
    assert scrape(port, "/")[0] == 404
    assert b"400 - Bad request syntax" in malformed_request(port)
    assert scrape(port)[0] == 200 and worker.poll() is None


def test_the_exporter_reports_each_queues_backlog_and_reprocess_batches_and_survives_the_broker(fleet, tmp_path):
    import redis

    from darkroom.pipeline.queue import TASK_NAME, make_celery
    from darkroom.pipeline.settings import Settings

    port = free_port()
    log = open(tmp_path / "exporter.log", "w")
    exporter = subprocess.Popen(
        [sys.executable, "-m", "darkroom._cli", "exporter", "--host", "127.0.0.1", "--port", str(port),
         "--storage-interval", "1"],
        env=fleet.subprocess_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        wait_for(lambda: b"darkroom exporter: http" in (tmp_path / "exporter.log").read_bytes(),
                 "the exporter to serve", timeout=60, context=(tmp_path / "exporter.log").read_text)
        worker = fleet.start_worker()
        run = darkroom.init(project="exported")
        for step in range(3):
            run.log({"img": darkroom.Image(np.full((8, 8), step, np.uint8))})
        assert run.finish(timeout=120, quiet=True).converted == 3
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait(timeout=60) == 0

        # A reprocess with no worker running: one chunk message waits, its batch is in flight.
        out = subprocess.run([sys.executable, "-m", "darkroom._cli", "reprocess", "exported", "--set",
                              "file_type=jpg", "--json"], env=fleet.subprocess_env(), capture_output=True,
                             timeout=180)
        assert out.returncode == 0, out.stderr
        image = (("queue", "darkroom.image"),)
        got = wait_for(lambda: (s := samples(scrape(port)[1])).get(("darkroom_reprocess_batches_in_flight", ()))
                       and s, "the exporter to read the reprocess batch", timeout=30)
        assert got[("darkroom_broker_up", ())] == got[("darkroom_storage_up", ())] == 1
        assert got[("darkroom_queue_messages_waiting", image)] == 1
        assert got[("darkroom_queue_messages_unacknowledged", image)] == 0
        assert got[("darkroom_queue_oldest_message_age_seconds", image)] > 0
        assert got[("darkroom_reprocess_items_pending", ())] == 3
        assert got[("darkroom_queue_messages_waiting", (("queue", "darkroom.video"),))] == 0
        promtool_check(scrape(port)[1])

        # A worker converts the batch, and holds a message it has not started (an ETA): unacknowledged.
        worker = fleet.start_worker()
        eta = make_celery(Settings.from_env()).send_task(TASK_NAME, args=[{}], queue="darkroom.image",
                                                         countdown=3600)
        got = wait_for(lambda: (s := samples(scrape(port)[1]))[("darkroom_queue_messages_unacknowledged", image)] == 1
                       and s[("darkroom_reprocess_batches_in_flight", ())] == 0 and s,
                       "the held message and the converted batch in the exporter's metrics", timeout=60,
                       context=worker.log_path.read_text)
        assert got[("darkroom_queue_messages_waiting", image)] == 0
        os.kill(worker.pid, signal.SIGTERM)  # scale-in: the held message goes back to the queue
        assert worker.wait(timeout=60) == 0
        got = samples(scrape(port)[1])
        assert got[("darkroom_queue_messages_waiting", image)] == 1
        assert got[("darkroom_queue_messages_unacknowledged", image)] == 0
        assert redis.Redis.from_url(fleet.redis.url).lindex("darkroom.image", 0).count(eta.id.encode())

        # The broker down: a sample that says so, no queue samples, and the exporter serves on.
        fleet.redis.stop()
        try:
            status, body = scrape(port)
            assert status == 200
            got = samples(body)
            assert got[("darkroom_broker_up", ())] == 0
            assert not [k for k in got if k[0].startswith("darkroom_queue_")]
            promtool_check(body)
            assert b"400 - Bad request syntax" in malformed_request(port)
        finally:
            fleet.redis.start()
        assert samples(scrape(port)[1])[("darkroom_broker_up", ())] == 1
        assert exporter.poll() is None
    finally:
        exporter.terminate()
        exporter.wait(timeout=30)
