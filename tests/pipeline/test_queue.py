"""Tests of darkroom.pipeline.queue: the Celery app factory and the queue names."""

from __future__ import annotations

import pytest

from darkroom.pipeline.messages import KINDS
from darkroom.pipeline.queue import QUEUES, TASK_NAME, make_celery, queue_for, queue_names
from darkroom.pipeline.settings import Settings


@pytest.fixture
def app():
    settings = Settings(broker_url="redis://127.0.0.1:1/0", visibility_timeout=901, task_time_limit=300)
    return make_celery(settings)


def test_the_app_speaks_json_only_and_never_unpickles(app) -> None:
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert list(app.conf.accept_content) == ["json"]


def test_the_app_acks_late_and_requeues_the_task_of_a_lost_worker(app) -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_the_app_keeps_no_results(app) -> None:
    assert app.conf.task_ignore_result is True
    assert app.conf.result_backend is None


def test_the_app_uses_the_broker_and_bounds_from_settings(app) -> None:
    assert app.conf.broker_url == "redis://127.0.0.1:1/0"
    assert app.conf.task_time_limit == 300
    assert app.conf.task_soft_time_limit == 270
    assert app.conf.broker_transport_options["visibility_timeout"] == 901
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit
    assert app.conf.task_publish_retry is False


def test_a_short_time_limit_still_leaves_a_positive_soft_limit() -> None:
    app = make_celery(Settings(broker_url="redis://h:1/0", visibility_timeout=60, task_time_limit=10))
    assert app.conf.task_soft_time_limit == 1


def test_the_app_declares_one_queue_per_kind_group(app) -> None:
    declared = {q.name: q.routing_key for q in app.conf.task_queues}
    assert declared == {q: q for q in QUEUES}
    assert set(QUEUES) == {"darkroom.image", "darkroom.video", "darkroom.audio",
                           "darkroom.molecule", "darkroom.object3d", "darkroom.data"}
    assert app.conf.task_default_queue in QUEUES
    assert app.conf.task_routes[TASK_NAME]["queue"] in QUEUES


def test_the_app_is_not_made_the_current_celery_app() -> None:
    from celery import current_app

    before = current_app._get_current_object()
    app = make_celery(Settings(broker_url="redis://h:1/0"), name="isolated")
    assert current_app._get_current_object() is before
    assert app.main == "isolated"


@pytest.mark.parametrize(
    ("kind", "queue"),
    [("image", "darkroom.image"), ("video", "darkroom.video"), ("audio", "darkroom.audio"),
     ("molecule", "darkroom.molecule"), ("object3d", "darkroom.object3d"),
     ("table", "darkroom.data"), ("html", "darkroom.data"), ("plot", "darkroom.data")],
)
def test_each_kind_has_its_queue(kind: str, queue: str) -> None:
    assert queue_for(kind) == queue


def test_every_message_kind_has_a_declared_queue() -> None:
    assert {queue_for(kind) for kind in KINDS} == set(QUEUES)


def test_queue_names_accepts_short_and_full_names() -> None:
    assert queue_names(["image", "darkroom.video", "data"]) == ["darkroom.image", "darkroom.video", "darkroom.data"]
    assert queue_names([]) == []


@pytest.mark.parametrize("name", ["table", "gif", "darkroom.gif", "", "Image"])
def test_queue_names_refuses_an_unknown_queue_and_lists_the_known_ones(name: str) -> None:
    with pytest.raises(ValueError) as info:
        queue_names(["image", name])
    assert str(info.value) == (
        f"unknown queue {name!r}; known: image, video, audio, molecule, object3d, data"
    )
