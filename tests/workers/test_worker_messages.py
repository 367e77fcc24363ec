"""A real `darkroom worker` (prefork) against Redis and S3, fed messages no SDK would send (issue 16, item 10).

The messages are published with kombu and redis directly, as a hostile or
broken producer would: a request whose box metadata nests 500 deep, a body
that is not base64, a JSON object where Celery expects its [args, kwargs,
embed] list.  Each must end as failed manifests or a rejected message, and
the worker must go on to convert the next request.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import uuid
from typing import Any

import numpy as np
import pytest

from darkroom.pipeline import paths
from darkroom.pipeline.errors import NotFound
from darkroom.pipeline.manifest import Manifest
from darkroom.pipeline.queue import TASK_NAME
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import open_storage

PROJECT, RUN = "hostile", "msgs"
QUEUE = "darkroom.image"


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def put_image(storage: Any, step: int) -> dict[str, Any]:
    buf = io.BytesIO()
    np.save(buf, np.full((4, 4), step, np.uint8), allow_pickle=False)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    uri = storage.put(paths.raw_key(sha, "npy"), data, "application/x-npy")
    return {"uri": uri, "sha256": sha, "bytes": len(data), "media_type": "application/x-npy", "ext": "npy"}


def request(step: int, key: str, source: dict[str, Any], **item: Any) -> dict[str, Any]:
    return {"schema": "darkroom.convert/1", "project": PROJECT, "run": RUN, "step": step, "key": key,
            "kind": "image", "items": [{"index": 0, "source": source, **item}]}


def task_headers(task_id: str) -> dict[str, Any]:
    """Celery's protocol 2 headers of a `darkroom.convert` task."""
    return {"lang": "py", "task": TASK_NAME, "id": task_id, "root_id": task_id, "parent_id": None,
            "group": None, "argsrepr": "(...)", "kwargsrepr": "{}", "origin": "test", "retries": 0,
            "eta": None, "expires": None, "timelimit": [None, None], "shadow": None}


def raw_redis_message(body: str, task_id: str) -> str:
    """What kombu's Redis transport pushes on a queue's list, with `body` as given (meant to be base64)."""
    return json.dumps({
        "body": body, "content-encoding": "utf-8", "content-type": "application/json",
        "headers": task_headers(task_id),
        "properties": {"correlation_id": task_id, "reply_to": "", "delivery_mode": 2,
                       "delivery_info": {"exchange": "", "routing_key": QUEUE}, "priority": 0,
                       "body_encoding": "base64", "delivery_tag": str(uuid.uuid4())},
    })


def wait_for_manifest(storage: Any, step: int, key: str, worker: Any, timeout: float = 60.0) -> Manifest:
    """The item's manifest, once the worker has written it (checked every 0.1 s, bounded)."""
    deadline = time.monotonic() + timeout
    where = paths.manifest_key(PROJECT, RUN, step, key, 0)
    while time.monotonic() < deadline:
        try:
            return Manifest.from_json_bytes(storage.get(where))
        except NotFound:
            time.sleep(0.1)
    pytest.fail(f"no manifest at {where} after {timeout:g} s; the worker's log:\n{worker.log_path.read_text()}",
                pytrace=False)


def test_item_10_nested_metadata_and_malformed_bodies_never_take_a_worker_down(fleet) -> None:
    import redis
    from kombu import Connection, Exchange, Producer

    settings = Settings.from_env(fleet.subprocess_env())
    storage = open_storage(settings.storage_url, settings)
    worker = fleet.start_worker("image", pool="prefork")
    client = redis.Redis.from_url(fleet.redis.url)
    deep_boxes = {"boxes": {"p": {"box_data": [], "meta": nested(500)}}}
    mid_boxes = {"boxes": {"p": {"box_data": [], "meta": nested(350)}}}
    with Connection(fleet.redis.url) as conn:
        producer = Producer(conn, exchange=Exchange(""), routing_key=QUEUE)

        def publish(body: bytes) -> None:
            task_id = str(uuid.uuid4())
            producer.publish(body, routing_key=QUEUE, headers=task_headers(task_id), content_type="application/json",
                             content_encoding="utf-8", correlation_id=task_id, declare=[])

        publish(json.dumps([[request(0, "deep", put_image(storage, 0), extra=deep_boxes)], {}, {}]).encode())
        publish(json.dumps([[request(1, "mid", put_image(storage, 1), extra=mid_boxes)], {}, {}]).encode())
        client.lpush(QUEUE, raw_redis_message("this is not base64 !!", str(uuid.uuid4())))
        client.lpush(QUEUE, "not even a kombu envelope")
        for body in ({"request": "an object, not [args, kwargs, embed]"}, {"args": "not a list"}, 5, None):
            publish(json.dumps(body).encode())
        publish(json.dumps([[request(2, "after", put_image(storage, 2))], {}, {}]).encode())

        for step, key in [(0, "deep"), (1, "mid")]:
            manifest = wait_for_manifest(storage, step, key, worker)
            assert manifest.status == "failed" and manifest.error is not None
            assert manifest.error.code == "malformed_message"
            assert "nests deeper than" in manifest.error.message
        assert wait_for_manifest(storage, 2, "after", worker).status == "ok"
    assert worker.poll() is None, worker.log_path.read_text()
    log = worker.log_path.read_text()
    assert "Unrecoverable error" not in log and "RecursionError" not in log, log
    assert log.count("dropped a message on darkroom.image that no worker can read: the body is not base64") == 1
    assert log.count("dropped a queue entry that is not a kombu message") == 1
    assert log.count("not a Celery task message") >= 2, log
