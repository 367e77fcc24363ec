"""`Storage.list_info`: key, size and last modification of each object, on both backends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from darkroom.pipeline.storage import open_storage


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "file":
        return open_storage(f"file://{tmp_path / 'data'}")
    return request.getfixturevalue("s3_storage")


def test_list_info_gives_each_objects_size_and_time_under_a_prefix(store: Any) -> None:
    before = time.time() - 5  # moto's times are whole seconds
    store.put("raw/" + "a" * 64 + ".npy", b"12345")
    store.put("raw/" + "b" * 64 + ".npy", b"")
    store.put("media/image/" + "c" * 64 + ".png", b"xyz")
    found = {o.key: o for o in store.list_info("raw/")}
    assert {k: o.size for k, o in found.items()} == {"raw/" + "a" * 64 + ".npy": 5, "raw/" + "b" * 64 + ".npy": 0}
    assert all(before <= o.modified <= time.time() + 5 for o in found.values())
    assert {o.key for o in store.list_info()} == set(found) | {"media/image/" + "c" * 64 + ".png"}
