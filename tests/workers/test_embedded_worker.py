"""workers/embedded.py: the JSON-lines worker, fed from an iterator and answering into a StringIO."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from darkroom.pipeline import paths
from darkroom.pipeline.manifest import Manifest
from darkroom.pipeline.settings import Limits, Settings
from darkroom.pipeline.storage import Storage, open_storage
from darkroom.workers.embedded import serve, settings_from_json, settings_to_json

from converter_harness import npy_bytes, put_raw


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'store'}"


@pytest.fixture
def storage(store_url: str) -> Storage:
    return open_storage(store_url)


def put_array(storage: Storage, array: np.ndarray) -> dict[str, Any]:
    return put_raw(storage, npy_bytes(array))


def request(*sources: dict[str, Any], step: int = 0, **fields: Any) -> dict[str, Any]:
    return {"schema": "darkroom.convert/1", "project": "p", "run": "r", "step": step, "key": "img",
            "kind": "image", "items": [{"index": i, "source": s} for i, s in enumerate(sources)], **fields}


def envelope(ident: int, req: Any) -> str:
    return json.dumps({"id": ident, "request": req}) + "\n"


def lines_out(settings: Settings, *lines: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    serve(iter([settings_to_json(settings) + "\n", *lines]), out)
    text = out.getvalue()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def answers(settings: Settings, *lines: str) -> list[dict[str, Any]]:
    """The answer lines, without the progress lines before them."""
    return [m for m in lines_out(settings, *lines) if "progress" not in m]


def test_settings_survive_the_json_round_trip_including_limits() -> None:
    settings = Settings(storage_url="file:///tmp/x", limits=Limits(max_pixels=5, max_payload_bytes=6,
                                                                   max_items_per_key=7), embedded_workers=3)
    assert settings_from_json(settings_to_json(settings)) == settings


def test_each_request_line_gets_one_answer_line_with_its_id_and_results(storage: Storage, store_url: str) -> None:
    good = put_array(storage, np.zeros((3, 3), np.uint8))
    bad = put_raw(storage, b"these bytes are no image " * 12, "png", "image/png")
    got = answers(Settings(storage_url=store_url),
                  envelope(7, request(good)), envelope(8, request(bad, good, step=1)))
    assert got == [{"id": 7, "results": [["ok", ""]]},
                   {"id": 8, "results": [["failed", "unreadable_file"], ["ok", ""]]}]
    for step, index, status in ((0, 0, "ok"), (1, 0, "failed"), (1, 1, "ok")):
        manifest = Manifest.from_json_bytes(storage.get(paths.manifest_key("p", "r", step, "img", index)))
        assert manifest.status == status


def test_a_malformed_request_is_answered_with_no_results(storage: Storage, store_url: str) -> None:
    good = put_array(storage, np.zeros((3, 3), np.uint8))
    got = answers(Settings(storage_url=store_url),
                  envelope(1, {"schema": "nope"}), envelope(2, "not a request"), envelope(3, request(good)))
    assert got == [{"id": 1, "results": []}, {"id": 2, "results": []}, {"id": 3, "results": [["ok", ""]]}]


def test_the_limits_in_the_settings_line_bound_the_conversions(storage: Storage, store_url: str) -> None:
    source = put_array(storage, np.zeros((4, 4), np.uint8))
    got = answers(Settings(storage_url=store_url, limits=Limits(max_pixels=15)), envelope(1, request(source)))
    assert got == [{"id": 1, "results": [["failed", "too_large"]]}]


def test_invalid_input_codes_are_reported_per_item(storage: Storage, store_url: str) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    nan = put_array(storage, np.array([[np.nan]]))
    got = answers(Settings(storage_url=store_url),
                  envelope(1, request(source, nan)), envelope(2, request(source, options={"dpi": 3})))
    assert got == [{"id": 1, "results": [["ok", ""], ["failed", "non_finite"]]},
                   {"id": 2, "results": [["failed", "invalid_options"]]}]


def test_only_a_settings_line_gives_no_answers(store_url: str) -> None:
    assert answers(Settings(storage_url=store_url)) == []


def test_a_relative_storage_url_is_resolved_against_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    storage = open_storage(f"file://{tmp_path / 'rel'}")
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    got = answers(Settings(storage_url="file://./rel"), envelope(1, request(source)))
    assert got == [{"id": 1, "results": [["ok", ""]]}]
    assert storage.exists(paths.manifest_key("p", "r", 0, "img", 0))


def test_answers_are_written_as_each_request_finishes(storage: Storage, store_url: str) -> None:
    source = put_array(storage, np.zeros((2, 2), np.uint8))
    out = io.StringIO()
    seen: list[str] = []

    def lines():
        yield settings_to_json(Settings(storage_url=store_url))
        yield envelope(1, request(source))
        seen.append(out.getvalue())  # read before the second request is handed over
        yield envelope(2, request(source))

    serve(lines(), out)
    assert [line for line in seen[0].splitlines() if "progress" not in line] == ['{"id": 1, "results": [["ok", ""]]}']
    assert sum("results" in line for line in out.getvalue().splitlines()) == 2


def test_a_request_and_each_of_its_items_say_they_start_before_the_answer(storage: Storage, store_url: str) -> None:
    sources = [put_array(storage, np.full((2, 2), i, np.uint8)) for i in range(2)]
    got = lines_out(Settings(storage_url=store_url), envelope(7, request(*sources, step=3)))
    assert got == [{"id": 7, "progress": "request"}, {"id": 7, "progress": "p/r/3/img/0/r1"},
                   {"id": 7, "progress": "p/r/3/img/1/r1"}, {"id": 7, "results": [["ok", ""], ["ok", ""]]}]


def test_a_request_with_text_no_utf8_can_hold_is_answered_and_the_worker_goes_on(storage: Storage, store_url: str) -> None:
    # Issue 16, item 5: a lone surrogate (JSON's "\ud800") in a key or caption ended the embedded worker
    # with UnicodeEncodeError, 47 times in 60 s as the training process restarted it and resent the request.
    good = put_array(storage, np.zeros((3, 3), np.uint8))
    caption = request(good, good)
    caption["items"][1]["caption"] = "cat \ud800"
    got = answers(Settings(storage_url=store_url),
                  envelope(1, request(good, key="img/\ud800")), envelope(2, caption),
                  envelope(3, request(good, step=1)))
    assert got == [{"id": 1, "results": []},
                   {"id": 2, "results": [["ok", ""], ["failed", "malformed_message"]]},
                   {"id": 3, "results": [["ok", ""]]}]


def test_a_bug_while_processing_a_request_ends_that_request_not_the_worker(
        storage: Storage, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from darkroom.workers import embedded

    good = put_array(storage, np.zeros((3, 3), np.uint8))
    real = embedded.process_message

    def buggy_once(message: Any, *args: Any, **kwargs: Any) -> Any:
        if message.get("step") == 0:
            raise RuntimeError("a bug")
        return real(message, *args, **kwargs)

    monkeypatch.setattr(embedded, "process_message", buggy_once)
    got = answers(Settings(storage_url=store_url), envelope(1, request(good)), envelope(2, request(good, step=1)))
    assert got == [{"id": 1, "results": []}, {"id": 2, "results": [["ok", ""]]}]
