"""The embedded default's worker: ``python -m darkroom.workers.embedded``, driven by the SDK.

No broker: the training process starts a few of these and talks JSON lines
over their stdin/stdout (first line: the settings; then one `ConvertRequest`
a line; each answer: ``{"id": ..., "results": [[status, code], ...]}`` or
``{"id": ..., "transient": message}``, after a ``{"id": ..., "progress": ...}``
line as the request and each of its items starts, which the training process
times its time limit from).  It runs the same `process_message` as the Celery
task.

Separate processes, not threads: PNG and codec work would otherwise share the
training process's GIL (bench/embedded_slowdown.py measures it).  Started as
fresh interpreters, not forked: a CUDA context or threads in the training
process do not survive fork, and, unlike multiprocessing's spawn, a fresh
``-m`` interpreter never re-runs the training script's top level (DESIGN.md, Queues).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import signal
import sys
import time
from typing import Any

from darkroom.pipeline.errors import StorageError, Transient
from darkroom.pipeline.settings import Limits, Settings
from darkroom.pipeline.storage import open_storage
from darkroom.workers.conversion import WorkerContext, process_message
from darkroom.workers.crash_marks import CrashMarks, FileMarks

_ATTEMPTS = 5


def settings_to_json(settings: Settings) -> str:
    return json.dumps(dataclasses.asdict(settings))


def settings_from_json(text: str) -> Settings:
    raw = json.loads(text)
    raw["limits"] = Limits(**raw["limits"])
    return Settings(**raw)


class _Progress(CrashMarks):
    """The worker's marks, telling the training process as each item of request `ident` starts."""

    def __init__(self, marks: CrashMarks, out: Any, ident: Any):
        self._marks, self._out, self._ident = marks, out, ident

    def start(self, item: str) -> int:
        starts = self._marks.start(item)
        _tell(self._out, {"id": self._ident, "progress": item})
        return starts

    def end(self, item: str) -> None:
        self._marks.end(item)


def _tell(out: Any, message: dict[str, Any]) -> None:
    """Write one answer line.  Raises BrokenPipeError when the training process is gone."""
    out.write(json.dumps(message) + "\n")
    out.flush()


def serve(lines: Any, out: Any, marks: CrashMarks = CrashMarks()) -> None:
    """Answer requests read from `lines` until EOF; `marks`: see `darkroom.workers.crash_marks`."""
    settings = settings_from_json(next(lines))
    storage = open_storage(settings.resolved_storage_url(), settings)
    try:
        for line in lines:
            _answer(line, storage, settings, out, marks)
    except BrokenPipeError:  # the training process is gone; its spool keeps the request
        return


def _answer(line: str, storage: Any, settings: Settings, out: Any, marks: CrashMarks) -> None:
    try:
        envelope = json.loads(line)
        answer: dict[str, Any] = {"id": envelope["id"]}
    except (ValueError, KeyError, TypeError):
        logging.getLogger("darkroom.worker").error("ignored a line that is not a request: %.200s", line)
        return
    _tell(out, {"id": envelope["id"], "progress": "request"})
    progress = _Progress(marks, out, envelope["id"])
    for attempt in range(_ATTEMPTS):
        try:
            manifests = process_message(envelope["request"], WorkerContext(
                storage, settings.limits, compact_every=settings.index_compact_every, marks=progress))
            answer["results"] = [[m.status, m.error.code if m.error else ""] for m in manifests]
            break
        except (Transient, StorageError) as e:
            # Retried here with backoff as the Celery task would; past the
            # attempts the SDK keeps the item spooled and sends it again.
            if attempt == _ATTEMPTS - 1:
                answer["transient"] = str(e)
            else:
                time.sleep(min(5.0, 0.2 * 2**attempt) * (0.5 + random.random()))
        except Exception:  # the task-entry guard: a bug ends this request, not the worker
            # Ending the process would bring the same request back from the
            # training process, and end the next worker too.
            logging.getLogger("darkroom.worker").exception("request %r failed", envelope["id"])
            answer["results"] = []
            break
    _tell(out, answer)


def main() -> None:
    # The training process starts this worker in a process group of its own
    # and ends it by closing its stdin; an interrupt aimed at it anyway
    # (kill -INT) must not cut a request short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="darkroom embedded worker: %(levelname)s %(message)s")
    # Answers go to the real stdout; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    # argv: [--marks FOLDER], a folder the training process made for its workers' marks.
    marks = FileMarks(sys.argv[2]) if sys.argv[1:2] == ["--marks"] and len(sys.argv) > 2 else CrashMarks()
    serve(iter(sys.stdin.readline, ""), out, marks)


if __name__ == "__main__":
    main()
