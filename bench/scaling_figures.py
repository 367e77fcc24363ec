"""The figures docs/scaling.md sizes a fleet with, each measured here, none assumed.

1. Bytes per queued message (the claim check): the ConvertRequest JSON body
   and the whole kombu message as stored in Redis, for one image and for a
   list of 16, as the SDK sends them (logged with `run.log` into a real
   redis-server with no worker, then read back from the queue's list).
2. Redis memory of a backlog: `--backlog` real messages published through the
   Celery app with no worker; INFO used_memory before and after; extrapolated
   to 1,000,000 queued items.
3. S3 requests per logged item: the S3 server's access log (moto's server,
   one line per request) while one image is logged, converted by a real
   `darkroom worker` and the run finished; then the same averaged over a run
   of `--steps` steps of one image, and one of `--list-steps` steps of 16
   images under one key, where run-level writes (run.json, summary) and
   per-step or per-request writes (history chunks, index) are shared.  Also
   the Redis commands a message costs (INFO commandstats) and the Redis
   connections a worker process holds.
4. Items per second per worker core, per kind: the converters called directly
   (pure functions, DESIGN.md) on payloads made by the SDK's media types;
   CPU time of this process, so another load on the machine costs wall time
   but not the figure.

Usage: python bench/scaling_figures.py [--backlog 20000] [--steps 100] [--list-steps 32]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import fleet_env, reset_s3, use_env  # noqa: E402

ITEMS_AT_SCALE = 1_000_000


# -- 1. bytes per message --------------------------------------------------------


def queued_messages(env: dict[str, str], queue: str) -> list[bytes]:
    """The raw kombu messages waiting in `queue` (kombu's Redis transport keeps a queue as a list)."""
    import redis

    return redis.Redis.from_url(env["DARKROOM_BROKER_URL"]).lrange(queue, 0, -1)


def request_of(message: bytes) -> dict[str, Any]:
    """The ConvertRequest inside a kombu message: body is base64 JSON [args, kwargs, embed]."""
    envelope = json.loads(message)
    args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
    return args[0]


def message_sizes(env: dict[str, str]) -> dict[str, tuple[int, int, dict[str, Any]]]:
    """{"1 image": (request JSON bytes, kombu message bytes, request), "16 images": ...}."""
    import darkroom

    rng = np.random.default_rng(0)
    run = darkroom.init(project="figures")
    run.log({"img": darkroom.Image(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), caption="sample 0")})
    run.log({"batch": [darkroom.Image(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), caption=f"sample {i}")
                       for i in range(16)]})
    assert run._sender.flush(timeout=120), "could not enqueue"
    sizes = {}
    for message in queued_messages(env, "darkroom.image"):
        request = request_of(message)
        label = f"{len(request['items'])} image{'s' if len(request['items']) > 1 else ''}"
        sizes[label] = (len(json.dumps(request, separators=(",", ":")).encode()), len(message), request)
    run.finish(wait=False, quiet=True)
    return dict(sorted(sizes.items(), key=lambda kv: len(kv[1][2]["items"])))


# -- 2. Redis memory of a backlog -------------------------------------------------


def backlog_memory(env: dict[str, str], request: dict[str, Any], count: int) -> float:
    """Bytes of Redis memory per queued message of `request`'s shape (`count` published)."""
    import redis

    from darkroom.pipeline.queue import TASK_NAME, make_celery, queue_for
    from darkroom.pipeline.settings import Settings

    client = redis.Redis.from_url(env["DARKROOM_BROKER_URL"])
    client.flushall()
    app = make_celery(Settings.from_env())
    queue = queue_for(request["kind"])
    before = client.info("memory")["used_memory"]
    with app.producer_or_acquire() as producer:
        for step in range(count):
            app.send_task(TASK_NAME, args=[{**request, "step": step}], queue=queue, producer=producer)
    assert client.llen(queue) == count
    after = client.info("memory")["used_memory"]
    client.flushall()
    app.close()
    return (after - before) / count


# -- 3. S3 requests per logged item -------------------------------------------------

_REQUEST_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # werkzeug colours some lines (HEAD, 404) even into a file


def s3_requests(log: Path, start: int, bucket: str, prefix: str) -> tuple[Counter[str], int]:
    """Requests in the S3 access log after byte `start`, by (method, what); and the log's new end."""
    time.sleep(0.5)  # the server writes its log line after the response
    text = log.read_bytes()
    found: Counter[str] = Counter()
    for line in text[start:].decode(errors="replace").splitlines():
        match = _REQUEST_LINE.search(_COLOUR.sub("", line))
        if match is None or "/moto-api/" in match.group(2):
            continue
        found[_what(match.group(1), match.group(2), bucket, prefix)] += 1
    return found, len(text)


def _what(method: str, target: str, bucket: str, prefix: str) -> str:
    """"PUT raw payload", "LIST manifest", ...: a request named by the kind of object it touches."""
    path, _, query = target.partition("?")
    key = path.lstrip("/").removeprefix(bucket).lstrip("/")
    if not key:
        listed = parse_qs(query).get("prefix")
        if method == "GET" and listed:
            return "LIST " + _kind_of(listed[0].removeprefix(prefix + "/"))
        return f"{method} bucket"
    return f"{method} {_kind_of(key.removeprefix(prefix + '/'))}"


def _kind_of(key: str) -> str:
    if key.startswith("raw/"):
        return "raw payload"
    if key.startswith("media/"):
        return "artifact sidecar (.meta.json)" if key.endswith(".meta.json") else "artifact"
    parts = key.split("/")
    if parts[0] == "runs" and len(parts) >= 4:
        if parts[3] in ("run.json", "summary.json"):
            return parts[3]
        return {"manifests": "manifest", "history": "history chunk"}.get(parts[3], "/".join(parts[3:5]))
    return f"other: {parts[0]}"


class Traffic(NamedTuple):
    """What one run cost the backends, phase by phase."""

    s3: dict[str, Counter[str]]  # phase -> S3 requests by kind
    redis: dict[str, Counter[str]]  # phase -> Redis commands by name
    worker_connections: int  # Redis clients one `darkroom worker` process (defaults) holds open


def redis_commands(env: dict[str, str]) -> Counter[str]:
    """Commands Redis has served since it started, by name (INFO commandstats)."""
    import redis

    stats = redis.Redis.from_url(env["DARKROOM_BROKER_URL"]).info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()
                    if name not in ("cmdstat_info", "cmdstat_client|list")})


def redis_clients(env: dict[str, str]) -> int:
    import redis

    return redis.Redis.from_url(env["DARKROOM_BROKER_URL"]).info("clients")["connected_clients"]


def request_counts(env: dict[str, str], log: Path, shapes: list[tuple[int, int]]) -> list[Traffic]:
    """What runs cost the backends: one run per (steps, images a step) in `shapes`.

    The phases do not overlap: the run logs and enqueues with no worker
    running, then one `darkroom worker` (defaults) starts, converts and stops,
    then the run finishes.
    """
    import darkroom

    bucket, _, prefix = env["DARKROOM_STORAGE_URL"].removeprefix("s3://").partition("/")
    workdir = Path(env["DARKROOM_DIR"]).parent
    rng = np.random.default_rng(1)
    reset_s3(env)
    _, mark = s3_requests(log, 0, bucket, prefix)
    runs = []
    for number, (steps, per_step) in enumerate(shapes):
        s3: dict[str, Counter[str]] = {}
        commands: dict[str, Counter[str]] = {}
        before = redis_commands(env)
        run = darkroom.init(project="requests")
        for step in range(steps):
            images = [darkroom.Image(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(per_step)]
            run.log({"img": images if per_step > 1 else images[0], "loss": 1 / (step + 1)})
        assert run._sender.flush(timeout=120), "could not enqueue"
        s3["sender: init, log, upload, enqueue"], mark = s3_requests(log, mark, bucket, prefix)
        commands["sender"], before = redis_commands(env) - before, redis_commands(env)
        clients = redis_clients(env)
        worker_log = workdir / f"figures-worker-{number}.log"
        worker = subprocess.Popen(
            [sys.executable, "-m", "darkroom._cli", "worker", "-Q", "image", "-n", f"figures{number}@%h",
             "-l", "info"],
            env=env, stdout=open(worker_log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_for(worker_log, f"converted {per_step} item(s)", worker, count=steps)
            connections = redis_clients(env) - clients
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        s3["worker: fetch, convert, store"], mark = s3_requests(log, mark, bucket, prefix)
        commands["worker (start, serve, stop)"], before = redis_commands(env) - before, redis_commands(env)
        report = run.finish(timeout=120, quiet=True)
        assert report.converted == steps * per_step, report
        s3["finish(): run.json, summary, wait for manifests"], mark = s3_requests(log, mark, bucket, prefix)
        runs.append(Traffic(s3, commands, connections))
    return runs


def _wait_for(log: Path, text: str, proc: subprocess.Popen, count: int = 1, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while log.read_text().count(text) < count:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not log {text!r} {count} times; see {log}")
        time.sleep(0.1)


# -- 4. items per second per core, per kind --------------------------------------------


def kind_cases() -> list[tuple[str, Any]]:
    """(label, media object) for each kind measured, built with the SDK's own types."""
    import darkroom

    rng = np.random.default_rng(2)
    y, x = np.mgrid[0:512, 0:512]
    smooth = np.stack([x / 2, y / 2, (x + y) / 4], axis=-1).astype(np.uint8)
    # A gradient sliding 4 pixels a frame: smooth like real footage, every frame different.
    frames = np.stack([np.roll(smooth[:128, :128], 4 * t, axis=1).transpose(2, 0, 1) for t in range(32)])
    tone = (0.5 * np.sin(np.linspace(0, 2 * np.pi * 440 * 10, 160_000))).astype(np.float32)
    return [
        ("image 512x512 RGB noise -> PNG", darkroom.Image(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))),
        ("image 512x512 RGB smooth -> PNG", darkroom.Image(smooth)),
        ("video 32 frames 128x128 -> GIF (default)", darkroom.Video(frames, fps=8)),
        ("video 32 frames 128x128 -> MP4", darkroom.Video(frames, fps=8, format="mp4")),
        ("audio 10 s mono 16 kHz -> WAV", darkroom.Audio(tone, sample_rate=16_000)),
        ("audio 10 s mono 16 kHz -> FLAC", darkroom.Audio(tone, sample_rate=16_000, format="flac")),
        ("point cloud 10,000 points -> pts.json", darkroom.Object3D(rng.normal(size=(10_000, 3)))),
        ("point cloud 100,000 points -> pts.json", darkroom.Object3D(rng.normal(size=(100_000, 3)))),
    ]


def per_core_rate(media: Any, seconds: float = 2.0) -> tuple[float, float, int, int]:
    """(items per CPU second, items per wall second, payload bytes, artifact bytes) of the
    kind's converter on `media`'s payload."""
    from darkroom.pipeline.settings import Limits
    from darkroom.workers.converters import ItemInput, Payload, converter_for

    buf = io.BytesIO()
    np.save(buf, media._payload.array, allow_pickle=False)  # what the sender stores as raw/<sha256>.npy
    item = ItemInput(Payload(buf.getvalue(), "application/x-npy", "npy"), extra=media._extra)
    converter = converter_for(media.kind)
    options = converter.parse_options(media._options)
    limits = Limits()
    output = converter.convert(item, options, limits)  # imports and codec set-up, not counted
    stored = len(output.data) + sum(len(r.data) for r in output.related)
    count, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while count < 3 or time.perf_counter() - wall0 < seconds:
        converter.convert(item, options, limits)
        count += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return count / cpu, count / wall, len(item.payload.data), stored


# -- output ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=20_000, help="messages queued for the Redis memory figure")
    parser.add_argument("--steps", type=int, default=100, help="steps of the one-image-a-step run (S3 requests)")
    parser.add_argument("--list-steps", type=int, default=32, help="steps of the 16-images-a-step run (S3 requests)")
    args = parser.parse_args()

    log = Path(tempfile.mkdtemp(prefix="darkroom-figures-")) / "s3-access.log"
    with fleet_env(s3_log=log) as env:
        use_env(env)
        print("1. bytes per queued message (ConvertRequest JSON / whole kombu message in Redis)")
        sizes = message_sizes(env)
        for label, (body, message, _) in sizes.items():
            print(f"   {label:9s} request {body:6,d} B   kombu message {message:6,d} B")
        print("   (the image itself, 512x512x3 uint8 as .npy: 786,560 B, stays in S3)")

        print(f"\n2. Redis memory of a backlog ({args.backlog:,d} messages published, no worker)")
        for label, (_, _, request) in sizes.items():
            count = args.backlog if len(request["items"]) == 1 else max(1000, args.backlog // 16)
            per_message = backlog_memory(env, request, count)
            per_item = per_message / len(request["items"])
            print(f"   {label:9s} {per_message:7,.0f} B a message, {per_item:6,.0f} B an item -> "
                  f"{ITEMS_AT_SCALE:,d} items queued: {per_item * ITEMS_AT_SCALE / 2**30:5.2f} GiB "
                  f"({count:,d} measured)")

        print("\n3. S3 requests and Redis commands per logged item (the S3 server's access log, INFO commandstats)")
        shapes = [(1, 1), (args.steps, 1), (args.list_steps, 16)]
        for (steps, per_step), traffic in zip(shapes, request_counts(env, log, shapes)):
            items, messages = steps * per_step, steps
            total = sum(sum(found.values()) for found in traffic.s3.values())
            print(f"   a run of {steps} step(s), {per_step} image(s) a step under one key: "
                  f"{total / items:.2f} S3 requests an image")
            for phase, found in traffic.s3.items():
                print(f"     {phase}: {sum(found.values()) / items:.2f}")
                for what, n in sorted(found.items()):
                    print(f"       {n / items:6.2f}  {what}")
            if (steps, per_step) == (args.steps, 1):
                print(f"     Redis commands a message ({messages} messages):")
                for phase, found in traffic.redis.items():
                    top = ", ".join(f"{name} {n / messages:.2f}" for name, n in found.most_common(6))
                    print(f"       {phase}: {sum(found.values()) / messages:.1f}  ({top})")
        print(f"   Redis connections held by one `darkroom worker -Q image` process: {traffic.worker_connections}")
    shutil.rmtree(log.parent, ignore_errors=True)

    print("\n4. items per second per worker core (converter alone, CPU time of one process)")
    for label, media in kind_cases():
        per_cpu, per_wall, payload, stored = per_core_rate(media)
        print(f"   {label:42s} {per_cpu:7.1f} /s per core ({per_wall:6.1f} /s wall)   "
              f"payload {payload / 1024:7.0f} KiB -> stored {stored / 1024:6.0f} KiB")


if __name__ == "__main__":
    main()
