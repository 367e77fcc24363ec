"""Tests of darkroom.pipeline.optional: optional libraries imported when used, with the extra to install."""

from __future__ import annotations

import sys

import pytest

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.optional import optional_import


def test_an_installed_library_is_imported_and_returned() -> None:
    assert optional_import("json", "tests need json", "test") is sys.modules["json"]


def test_a_dotted_submodule_is_imported() -> None:
    assert optional_import("email.mime.text", "tests need email", "test").__name__ == "email.mime.text"


def test_a_missing_library_fails_with_missing_dependency_and_the_extra_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # what `import av` finds when PyAV is not installed
    with pytest.raises(InvalidInput) as caught:
        optional_import("av", "video needs PyAV", "video")
    assert caught.value.code == "missing_dependency"
    assert caught.value.message == "video needs PyAV on the worker: pip install 'darkroom[video]'"


def test_the_machine_named_in_the_text_can_be_the_training_process() -> None:
    with pytest.raises(InvalidInput, match=r"^charts need nosuchlib_darkroom here: pip install 'darkroom\[plots\]'$"):
        optional_import("nosuchlib_darkroom", "charts need nosuchlib_darkroom", "plots", where="here")


def test_a_library_installed_after_a_failed_import_is_found_on_the_next_use(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "json", None)
    with pytest.raises(InvalidInput):
        optional_import("json", "tests need json", "test")
    monkeypatch.undo()
    assert optional_import("json", "tests need json", "test").dumps([1]) == "[1]"
