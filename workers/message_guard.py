"""Broker messages that would end a worker before any task runs: rejected with a log line instead.

Celery and kombu read a message in the worker's main process, outside every
task, and an exception there is "Unrecoverable error": the worker exits and
an unacknowledged message comes back for the next one (issue 16, item 10).
Three such messages, each a hand-made one no darkroom producer sends:

* a body nested a few hundred deep: the JSON decodes, but Celery's prefork
  pool then serialises the decoded arguments for its own pipe to a child
  process, recursively (RecursionError).  That is Celery's internal IPC of
  data it already decoded from JSON; darkroom never unpickles a message
  (``accept_content=["json"]``, pipeline/queue.py);
* a JSON object body where Celery's protocol 2 expects ``[args, kwargs,
  embed]``, or headers without an ``id``: Celery's Request fails to unpack it;
* an envelope whose body is not base64, or that is not kombu's JSON at all:
  kombu's Redis transport fails to read it.

`GuardedRequest` (the tasks' Request class) turns the first two into
Celery's own `InvalidTaskError`, which the consumer logs and rejects;
`GuardedRedisTransport` (the worker's transport for ``redis://`` brokers)
drops the third with a log line.  Anything that decodes reaches the task,
where the message model refuses what it must as failed manifests.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from celery import Task
from celery.exceptions import InvalidTaskError
from celery.worker.request import Request
from kombu.transport import redis as kombu_redis

log = logging.getLogger("darkroom.worker")

# Nesting the main process may hand to pickle (Python's recursion limit is
# 1000, and Celery's own frames use some): a convert request decodes at most
# MAX_EXTRA_DEPTH (16) levels inside its item, about 22 in all.
_PICKLE_SAFE_DEPTH = 64
_NOT_KEPT = "(not kept in the worker's main process: nested too deep to hand to the pool)"


class GuardedRequest(Request):
    """Celery's Request, keeping no copy of arguments too deep to hand to the pool."""

    def __init__(self, message: Any, *args: Any, **kwargs: Any):
        super().__init__(message, *args, **kwargs)
        if not any(_deeper_than(part, _PICKLE_SAFE_DEPTH) for part in (self._args, self._kwargs)):
            return
        if self._decoded:  # the body itself goes to the pool as decoded objects
            raise InvalidTaskError(f"task arguments nested deeper than {_PICKLE_SAFE_DEPTH} levels")
        # The pool child decodes the body again itself (celery.app.trace); the
        # copy the main process keeps is only shown, and must not be pickled.
        self._request_dict["args"] = self._args = [_NOT_KEPT]
        self._request_dict["kwargs"] = self._kwargs = {}


class GuardedTask(Task):
    """The base class of darkroom's tasks: a message of the wrong shape is an invalid task, not a crash."""

    Request = GuardedRequest

    def start_strategy(self, app: Any, consumer: Any, **kwargs: Any) -> Any:
        strategy = super().start_strategy(app, consumer, **kwargs)

        def guarded(message: Any, *args: Any, **kw: Any) -> Any:
            try:
                return strategy(message, *args, **kw)
            except (TypeError, ValueError, KeyError, AttributeError) as e:
                # Celery's strategy and Request assume protocol 2's shapes (a
                # body [args, kwargs, embed], headers with an id): the
                # consumer logs and rejects an InvalidTaskError.
                raise InvalidTaskError(
                    "not a Celery task message (protocol 2 wants headers with task and id, and a body "
                    f"[args, kwargs, embed]): {type(e).__name__}: {e}") from None

        return guarded


class GuardedRedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, dropping a queue entry that is not kombu's JSON envelope."""

    def _brpop_read(self, **options: Any) -> Any:
        try:
            return super()._brpop_read(**options)
        except json.JSONDecodeError as e:
            # The entry is popped already; a message whose own body is not
            # JSON fails later, in Celery's decode, which rejects it itself.
            log.error("dropped a queue entry that is not a kombu message (not JSON: %s)", e)
            return True


class GuardedRedisTransport(kombu_redis.Transport):
    """kombu's Redis transport, dropping with a log line a message it cannot read."""

    Channel = GuardedRedisChannel

    def _deliver(self, message: Any, queue: str) -> None:
        problem = _unreadable(message)
        if problem:
            # Popped from the queue and not yet acknowledged-pending: dropping it rejects it.
            log.error("dropped a message on %s that no worker can read: %s", queue, problem)
            return
        super()._deliver(message, queue)


def _unreadable(message: Any) -> str | None:
    """Why kombu's virtual Message could not be made from `message`, or None."""
    if not isinstance(message, dict):
        return f"the envelope is a {type(message).__name__}, not a JSON object"
    properties = message.get("properties")
    if not isinstance(properties, dict) or "delivery_tag" not in properties:
        return "the envelope has no properties with a delivery_tag"
    body, encoding = message.get("body"), properties.get("body_encoding")
    if body and encoding and str(encoding).lower() != "utf-8":  # kombu decodes only these two
        if encoding != "base64":
            return f"body_encoding {str(encoding)[:40]!r}; accepted: base64 or utf-8"
        try:
            base64.b64decode(body.encode() if isinstance(body, str) else body)
        except (binascii.Error, ValueError, TypeError, AttributeError) as e:
            return f"the body is not base64 ({e})"
    return None


def _deeper_than(value: Any, depth: int) -> bool:
    """Whether JSON-like `value` nests deeper than `depth` levels; iterative, stops at the first such path."""
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, (list, tuple)):
            if level > depth:
                return True
            stack.extend((child, level + 1) for child in node)
    return False
