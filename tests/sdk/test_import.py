"""`import darkroom` is light (numpy and the standard library) and its public surface is one list."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import darkroom

HEAVY = ("PIL", "pydantic", "celery", "kombu", "minio", "av", "torch", "rich", "click", "redis", "urllib3")


def fresh_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_darkroom_loads_no_codec_queue_storage_client_or_tensor_library():
    out = fresh_python(
        "import json, sys, darkroom\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {list(HEAVY)!r})))"
    )
    assert json.loads(out) == []


def test_building_an_image_from_an_array_loads_no_heavy_module_either():
    out = fresh_python(
        "import json, sys, numpy as np, darkroom\n"
        "darkroom.Image(np.zeros((4, 4, 3)), masks={'m': {'mask_data': np.zeros((4, 4), int)}}, boxes={'b': {'box_data': []}})\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {list(HEAVY)!r})))"
    )
    assert json.loads(out) == []


def test_import_darkroom_does_not_import_the_workers():
    out = fresh_python("import sys, darkroom; print(sorted(m for m in sys.modules if m.startswith('darkroom.workers')))")
    assert out.strip() == "[]"


def test_every_public_name_is_exported_and_resolves():
    assert sorted(darkroom.__all__) == sorted(set(darkroom.__all__))
    for name in darkroom.__all__:
        if name in ("run", "summary", "config"):
            continue  # mirrors of the current run, None without one
        assert getattr(darkroom, name) is not None, name
    assert issubclass(darkroom.DarkroomWarning, UserWarning)
    assert darkroom.__version__ == "0.1.0"


def test_before_init_run_is_none_and_summary_says_to_call_init_in_a_fresh_interpreter():
    assert fresh_python("import darkroom; print(darkroom.run, darkroom.summary, bool(darkroom.config))").strip() == (
        "None <darkroom.summary: no run; call darkroom.init() first> False")


def test_an_unknown_attribute_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match=r"module 'darkroom' has no attribute 'NoSuchThing'"):
        darkroom.NoSuchThing  # noqa: B018
