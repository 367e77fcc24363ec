"""Where convert requests go: the `Dispatch` protocol, the Celery queue, and an in-process one for tests.

A dispatch takes a request (the JSON of a `ConvertRequest`) with a `Receipt`,
and later tells the receipt whether it was delivered.  What "delivered" means
is the dispatch's `converts` flag:

- ``converts = False`` (Celery, `InProcessDispatch`): the request is on a
  queue; the spool keeps its entry until the items' manifests exist, and sends
  it again if they do not appear (a broker that lost the message);
- ``converts = True`` (the embedded workers, `darkroom._embedded`): delivered
  means converted, with each item's outcome, so the entry is done at once.

`InProcessDispatch` plays the role of dramatiq's StubBroker: a queue in
memory that a test drains with `run_worker()` (the real worker code, on the
test's thread) or drops with `lose_all()`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from darkroom.pipeline.errors import BrokerUnavailable, Transient
from darkroom.pipeline.settings import Settings

if TYPE_CHECKING:
    from darkroom.pipeline.storage import Storage

Results = list[tuple[str, str]]  # (status, error code) per item, when the dispatch converts


class Outcomes:
    """What the embedded workers reported per item and revision; read by `finish()`'s report."""

    def __init__(self) -> None:
        self._by_item: dict[tuple[int, str, int, int], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def record(self, request: dict[str, Any], results: Results) -> None:
        revision = request.get("revision", 1)
        with self._lock:
            for item, outcome in zip(request["items"], results):
                self._by_item[(request["step"], request["key"], item["index"], revision)] = tuple(outcome)

    def get(self, ident: tuple[int, str, int], revision: int) -> tuple[str, str] | None:
        with self._lock:
            return self._by_item.get((*ident, revision))


class Receipt(Protocol):
    """What the delivery loop is told about one request."""

    def delivered(self, results: Results | None) -> None:
        """Enqueued (`results` None), or converted with each item's (status, error code)."""

    def failed(self, error: Exception) -> None:
        """Not delivered this time (a `Transient` fault): the spool keeps it for the next attempt."""


class Dispatch(Protocol):
    """Sends convert requests somewhere that converts them."""

    converts: bool

    def send(self, request: dict[str, Any], receipt: Receipt) -> None:
        """Hand `request` over, and tell `receipt` (now or from another thread) how it went.

        Raises
        ------
        Transient: nothing was handed over; try again later.
        """

    def close(self, wait: bool = True) -> None:
        """Finish what was handed over (`wait`) and release everything."""

    def abandon(self) -> None:
        """Leave now (Ctrl-C at exit): what was not delivered stays in the spool."""


class CeleryDispatch:
    """Publishes to the per-kind queues on the broker."""

    converts = False

    def __init__(self, settings: Settings):
        from darkroom.pipeline.queue import make_celery

        self.app = make_celery(settings)

    def send(self, request: dict[str, Any], receipt: Receipt) -> None:
        from kombu.exceptions import OperationalError

        from darkroom.pipeline.timestamps import now_iso
        from darkroom.pipeline.queue import TASK_NAME, queue_for

        request = {**request, "sent_at": now_iso()}
        try:
            self.app.send_task(TASK_NAME, args=[request], queue=queue_for(request["kind"]), retry=False)
        except (OperationalError, OSError) as e:
            raise BrokerUnavailable(f"broker did not accept the message: {e}") from e
        receipt.delivered(None)

    def close(self, wait: bool = True) -> None:
        self.app.close()

    def abandon(self) -> None:
        self.close(wait=False)


class InProcessDispatch:
    """A queue in memory, converted by the real worker code when a test says so (no broker, no process)."""

    converts = False

    def __init__(self, storage: "Storage", settings: Settings | None = None, convert_on_send: bool = False):
        self.storage = storage
        self.settings = settings or Settings()
        self.convert_on_send = convert_on_send
        self.queued: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # every request ever handed over, in order
        self.refuse = 0  # refuse this many sends with a Transient fault (a broker outage)
        self._lock = threading.Lock()

    def send(self, request: dict[str, Any], receipt: Receipt) -> None:
        with self._lock:
            if self.refuse:
                self.refuse -= 1
                raise Transient("the in-process broker refused the message (a test's outage)")
            self.queued.append(request)
            self.sent.append(request)
        receipt.delivered(None)
        if self.convert_on_send:
            self.run_worker()

    def run_worker(self) -> int:
        """Convert every queued request with the worker's own code; return how many."""
        from darkroom.workers.conversion import WorkerContext, process_message

        with self._lock:
            requests, self.queued = self.queued, []
        for request in requests:
            process_message(request, WorkerContext(self.storage, self.settings.limits))
        return len(requests)

    def lose_all(self) -> int:
        """Drop every queued request, as a broker restarted without persistence does; return how many."""
        with self._lock:
            lost, self.queued = len(self.queued), []
        return lost

    def close(self, wait: bool = True) -> None:
        pass

    def abandon(self) -> None:
        pass


def open_dispatch(settings: Settings, marks_dir: Any) -> Dispatch:
    """The dispatch `settings` ask for: the embedded workers (no broker set) or Celery."""
    if settings.embedded:
        from darkroom._embedded import EmbeddedDispatch

        # Beside the spool: a `darkroom sync` after a crash finds the marks its workers left.
        return EmbeddedDispatch(settings, marks_dir)
    return CeleryDispatch(settings)
