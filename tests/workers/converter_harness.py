"""Driving converters and `process_request` in tests: inputs, damaged copies, and the checks every run passes.

The fuzz tests (test_*_fuzz.py) and the converter tests build their inputs and
judge their outcomes here, so each kind's file holds only what is particular to
its kind.  Test files import it by module name, as tests/sdk import
tensor_doubles: pytest's default "prepend" import mode puts this folder on
sys.path (there is no __init__.py under tests/).  tests/workers/conftest.py
registers it for assertion rewriting, so its failed asserts show their values.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from darkroom.pipeline import paths
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.manifest import Manifest
from darkroom.pipeline.messages import ConvertRequest, decode_request
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import Storage, open_storage
from darkroom.workers.conversion import WorkerContext, process_request
from darkroom.workers.converters import ItemInput, Output, Payload

NPY = "application/x-npy"


# -- inputs ------------------------------------------------------------------------------


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings for a bounded fuzz test: `max_examples` runs, no per-example deadline."""
    return settings(max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def npy_item(array: np.ndarray) -> ItemInput:
    return ItemInput(Payload(npy_bytes(array), NPY, "npy"))


def file_item(data: bytes, ext: str = "bin") -> ItemInput:
    return ItemInput(Payload(data, "application/octet-stream", ext))


@st.composite
def pixel_arrays(draw: st.DrawFn, dtypes: list[str], shapes: st.SearchStrategy[tuple[int, ...]]) -> np.ndarray:
    """An image or video array: any of `dtypes`, any of `shapes`, any values.

    Half the float arrays hold "ordinary" values, so the [0,1], [-1,1] and
    clipping branches of MEDIA_TYPES.md's dtype rule all get hit; the other half
    include NaN and ±inf.
    """
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = draw(shapes)
    if dtype.kind == "f" and draw(st.booleans()):
        lo, hi = draw(st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (-300.0, 300.0)]))
        return draw(hnp.arrays(dtype, shape, elements=st.floats(lo, hi, width=dtype.itemsize * 8)))
    return draw(hnp.arrays(dtype, shape))


def byte_flips(max_size: int, max_position: int = 10_000) -> st.SearchStrategy[list[tuple[int, int]]]:
    """Up to `max_size` (position, xor) pairs for `damaged`; positions wrap around the data."""
    return st.lists(st.tuples(st.integers(0, max_position), st.integers(1, 255)), max_size=max_size)


def damaged(data: bytes, flips: list[tuple[int, int]], cut: int, keep: int = 0) -> bytes:
    """`data` with each flip's byte XORed, then its last `cut` bytes dropped (but `keep` bytes stay)."""
    copy = bytearray(data)
    for position, xor in flips:
        copy[position % len(copy)] ^= xor
    del copy[len(copy) - min(cut, len(copy) - keep):]
    return bytes(copy)


# -- one converter call ------------------------------------------------------------------


def run_converter(convert: Callable[[ItemInput, Any, Limits], Output], item: ItemInput, options: Any,
                  limits: Limits) -> Output | InvalidInput:
    """Run the converter; anything but an Output or an InvalidInput fails the test.

    Returns
    -------
    The Output, whose warnings are non-empty strings, or the InvalidInput raised,
    whose code and message are non-empty strings.
    """
    try:
        output = convert(item, options, limits)
    except InvalidInput as e:
        assert isinstance(e.code, str) and e.code
        assert isinstance(e.message, str) and e.message.strip()
        return e
    assert isinstance(output, Output)
    assert all(isinstance(w, str) and w for w in output.warnings)
    return output


# -- process_request end to end ------------------------------------------------------------


def put_raw(storage: Storage, data: bytes, ext: str = "npy", media_type: str = NPY) -> dict[str, Any]:
    """Store a raw payload the way the SDK does and return its Source dict."""
    sha = hashlib.sha256(data).hexdigest()
    uri = storage.put(paths.raw_key(sha, ext), data, media_type)
    return {"uri": uri, "sha256": sha, "bytes": len(data), "media_type": media_type, "ext": ext}


@contextmanager
def scratch_storage() -> Iterator[Storage]:
    """A file:// storage in a new temporary folder, removed on exit.

    Not `tmp_path`: hypothesis runs every example in one function-scoped
    fixture, and each example needs an empty store.
    """
    with tempfile.TemporaryDirectory() as root:
        yield open_storage(f"file://{root}")


def convert_request(kind: str, items: list[dict[str, Any]], options: dict[str, Any], step: int = 1,
                    key: str = "k") -> ConvertRequest:
    """A decoded request of project "p", run "r"."""
    return decode_request({"schema": "darkroom.convert/1", "project": "p", "run": "r", "step": step,
                           "key": key, "kind": kind, "items": items, "options": options})


def processed(storage: Storage, request: ConvertRequest, limits: Limits, repeat: bool = False) -> list[Manifest]:
    """`process_request`'s manifests, which must be one per item in order.

    With `repeat` the request is processed twice (a redelivery), and the second
    run must decide every item as the first did.
    """
    manifests = process_request(request, WorkerContext(storage, limits))
    if repeat:
        again = process_request(request, WorkerContext(storage, limits))
        assert [(m.status, m.error) for m in again] == [(m.status, m.error) for m in manifests]
    assert [m.index for m in manifests] == list(range(len(request.items)))
    return manifests


def stored_manifest(storage: Storage, request: ConvertRequest, manifest: Manifest) -> Manifest:
    """The manifest stored for `manifest`'s item, which must have the same status."""
    key = paths.manifest_key(request.project, request.run, request.step, request.key, manifest.index)
    stored = Manifest.from_json_bytes(storage.get(key))
    assert stored.status == manifest.status
    return stored


def check_outcome(storage: Storage, manifest: Manifest) -> None:
    """An ok manifest's artifact is stored with its sha256; a failed one's error is not a crash."""
    if manifest.status == "ok":
        data = storage.get(storage.key_of(manifest.artifact.uri))
        assert hashlib.sha256(data).hexdigest() == manifest.artifact.sha256
    else:
        # "internal_error" means a converter raised something other than InvalidInput.
        assert manifest.error.code != "internal_error", manifest.error.message
