"""Graceful scale-in, timed: after SIGTERM, how soon the messages a worker holds are back in their queue,
and how soon it exits once the request it was converting is done.

The issue's bars: the reserved messages are back in their queue in <= 1 s;
the worker exits within the item's remaining time + 5 s.

Each round: a `darkroom worker -Q image --pool prefork -c 1` holds one message
it has not started (sent with a one-hour countdown, as a retry waiting out its
backoff is held) and converts a request of noise images; SIGTERM comes once
the request's first item has started (its crash mark is in Redis).  The
held message's return is seen by polling the queue every 2 ms; the request's
end is its last manifest's created_at; the exit is the process's.  Medians
of the rounds.  Times are wall-clock, on a machine others share: the
returned-at-once figure is bounded by kombu's Redis poll (BRPOP wakes the
worker's loop at least once a second), not by the return itself.

Usage: python bench/scale_in.py [--rounds 5] [--items 6] [--size 1024]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import fleet_env, use_env  # noqa: E402

QUEUE = "darkroom.image"


def _wait(check, what: str, timeout: float = 120.0, every: float = 0.01):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(every)
    return value


def one_round(env: dict[str, str], workdir: Path, items: int, size: int, seed: int) -> tuple[float, float, float]:
    """(seconds until the held message was back, seconds the request still ran, seconds from its end to exit)."""
    import redis

    import darkroom
    from darkroom.pipeline.queue import TASK_NAME, make_celery
    from darkroom.pipeline.settings import Settings

    client = redis.Redis.from_url(env["DARKROOM_BROKER_URL"])
    client.delete(QUEUE)
    log_path = workdir / f"worker-{seed}.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "darkroom._cli", "worker", "-Q", "image", "--pool", "prefork", "-c", "1",
         "-n", f"scalein{seed}@%h"], env={**os.environ, **env}, stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: " ready." in log_path.read_text(), "the worker's ready line", every=0.05)
        held = make_celery(Settings.from_env()).send_task(TASK_NAME, args=[{}], queue=QUEUE, countdown=3600)
        _wait(lambda: f"[{held.id}] received" in log_path.read_text(), "the held message received", every=0.05)
        run = darkroom.init(project="scale-in")
        rng = np.random.default_rng(seed)
        run.log({"slow": [darkroom.Image(rng.integers(0, 256, (size, size, 3), np.uint8)) for _ in range(items)]})
        mark = f"darkroom:converting:scale-in/{run.id}/0/slow/0/r1"
        _wait(lambda: client.exists(mark), "the request's first item to start")
        sent = time.time()
        os.kill(worker.pid, signal.SIGTERM)
        _wait(lambda: held.id.encode() in (client.lindex(QUEUE, 0) or b""), "the held message back", every=0.002)
        back = time.time() - sent
        worker.wait(timeout=600)
        exited = time.time()
        assert worker.returncode == 0, log_path.read_text()
        report = run.finish(timeout=120, quiet=True)
        assert report.converted == items, report
        ended = max(dt.datetime.strptime(m["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
                    .replace(tzinfo=dt.timezone.utc).timestamp()
                    for m in darkroom.Api().run(run.path).manifests())
        assert json.loads(client.lindex(QUEUE, 0))["headers"]["id"] == held.id
        return back, ended - sent, exited - ended
    except (TimeoutError, AssertionError):
        print(log_path.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=6, help="noise images in the request being converted")
    parser.add_argument("--size", type=int, default=1024, help="their side")
    args = parser.parse_args()
    rows = []
    with fleet_env() as env:
        workdir = Path(env["DARKROOM_DIR"]).parent
        env = {**env, "DARKROOM_STORAGE_URL": f"file://{workdir}/data"}
        use_env(env)
        for i in range(args.rounds):
            back, remaining, lag = one_round(env, workdir, args.items, args.size, seed=i + 1)
            rows.append((back, remaining, lag))
            print(f"  round {i + 1}: held message back {back:.3f} s after SIGTERM; the request ran {remaining:.2f} s "
                  f"more; the worker exited {lag:.2f} s after it ended", flush=True)
    back, remaining, lag = (statistics.median(col) for col in zip(*rows))
    print(f"\n`darkroom worker -Q image --pool prefork -c 1`, a request of {args.items} {args.size}x{args.size} noise "
          f"images being converted and one message held, medians of {args.rounds}, {os.cpu_count()} cores")
    print(f"  held message back in its queue: {back:.3f} s after SIGTERM  (bar: <= 1 s)")
    print(f"  the request ran on {remaining:.2f} s after SIGTERM and finished; the worker exited {lag:.2f} s after "
          "it ended  (bar: <= 5 s)")


if __name__ == "__main__":
    main()
