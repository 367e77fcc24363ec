"""Tests of darkroom.pipeline.storage: one contract run on file:// and s3://, then each backend's own edges.

The contract runs on a FileStorage under tmp_path and on an S3Storage on a fresh
bucket of a real moto server on loopback (the `s3_storage` fixture).
"""

from __future__ import annotations

import os
import socket
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from darkroom.pipeline import paths
from darkroom.pipeline.errors import (
    ConfigError,
    DarkroomError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
    Transient,
    UnsafeKey,
)
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import Storage, open_storage
from darkroom.pipeline.storage.file import FileStorage
from darkroom.pipeline.storage.s3 import S3Storage

UNSAFE_KEYS = [
    "../outside",
    "raw/../../outside",
    "/etc/passwd",
    "raw\\..\\outside",
    "raw/a\x00b",
    "raw/a\nb",
    "raw/a\x7fb",
    "",
    "raw//double",
    "./raw/x",
]


@pytest.fixture(params=["file", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Storage, Callable[[str], Storage]]:
    """(a storage, a function opening a sibling storage: the same server, another root)."""
    if request.param == "file":
        return open_storage(f"file://{tmp_path / 'store'}"), lambda name: open_storage(f"file://{tmp_path / name}")
    storage = request.getfixturevalue("s3_storage")
    server = request.getfixturevalue("s3_server")
    settings = Settings(storage_url=storage.url, s3_endpoint_url=server.endpoint,
                        s3_access_key="testing", s3_secret_key="testing")
    return storage, lambda name: open_storage(f"s3://{storage.bucket}/{name}", settings)


@pytest.fixture
def storage(backend: tuple[Storage, Callable[[str], Storage]]) -> Storage:
    return backend[0]


# -- the contract, on both backends -------------------------------------------

def test_put_returns_the_uri_and_get_returns_the_same_bytes(storage: Storage) -> None:
    data = bytes(range(256)) * 3
    uri = storage.put("raw/blob.bin", data)
    assert uri == storage.uri("raw/blob.bin") == f"{storage.url}/raw/blob.bin"
    assert storage.get("raw/blob.bin") == data


def test_put_replaces_an_existing_object(storage: Storage) -> None:
    storage.put("runs/p/r/summary.json", b"first, longer version")
    storage.put("runs/p/r/summary.json", b"second")
    assert storage.get("runs/p/r/summary.json") == b"second"
    assert storage.size("runs/p/r/summary.json") == 6


def test_an_empty_object_is_an_object(storage: Storage) -> None:
    storage.put("raw/empty", b"")
    assert storage.get("raw/empty") == b""
    assert storage.size("raw/empty") == 0
    assert storage.exists("raw/empty")


def test_size_and_exists_tell_a_stored_object_from_a_missing_one(storage: Storage) -> None:
    storage.put("media/image/a.png", b"12345")
    assert storage.size("media/image/a.png") == 5
    assert storage.exists("media/image/a.png")
    assert storage.size("media/image/missing.png") is None
    assert not storage.exists("media/image/missing.png")
    assert not storage.exists("media/image")  # a folder of keys is not an object


def test_get_of_a_missing_object_raises_not_found_naming_the_key(storage: Storage) -> None:
    with pytest.raises(NotFound, match="missing.png"):
        storage.get("media/image/missing.png")


def test_get_refuses_an_object_over_max_bytes_as_too_large(storage: Storage) -> None:
    storage.put("raw/big.npy", b"x" * 1000)
    with pytest.raises(InvalidInput) as info:
        storage.get("raw/big.npy", max_bytes=999)
    assert info.value.code == "too_large"
    assert info.value.message == (
        "raw/big.npy is 1000 bytes; the bound is 999 (DARKROOM_MAX_PAYLOAD_BYTES)"
    )


def test_get_accepts_an_object_exactly_at_max_bytes(storage: Storage) -> None:
    storage.put("raw/big.npy", b"x" * 1000)
    assert storage.get("raw/big.npy", max_bytes=1000) == b"x" * 1000


def test_stream_gives_a_byte_range_in_chunks_without_reading_the_rest(storage: Storage) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    storage.put("media/image/big.bin", data)
    assert b"".join(storage.stream("media/image/big.bin")) == data
    chunks = list(storage.stream("media/image/big.bin", 1000, 9000, chunk_size=3000))
    assert b"".join(chunks) == data[1000:9000] and max(len(c) for c in chunks) <= 3000 and len(chunks) >= 3
    assert b"".join(storage.stream("media/image/big.bin", 10_000, 10_240)) == data[10_000:]
    assert list(storage.stream("media/image/big.bin", 5, 5)) == []
    with pytest.raises(NotFound):
        storage.stream("media/image/missing.bin")
    with pytest.raises(NotFound):
        list(storage.stream("media/image/missing.bin", 0, 10))
    with pytest.raises(ValueError, match="is not a range of bytes"):
        storage.stream("media/image/big.bin", 9, 3)


def test_delete_removes_an_object_and_deleting_a_missing_one_is_harmless(storage: Storage) -> None:
    storage.put("raw/gone", b"1")
    storage.delete("raw/gone")
    assert not storage.exists("raw/gone")
    with pytest.raises(NotFound):
        storage.get("raw/gone")
    storage.delete("raw/gone")


def test_list_gives_every_key_under_a_prefix_and_nothing_else(storage: Storage) -> None:
    keys = {
        "runs/p/r/history/0000000000.jsonl",
        "runs/p/r/history/0000000010.jsonl",
        "runs/p/r/manifests/1/k/0.json",
        "runs/p/r2/history/0000000000.jsonl",
        "raw/x.npy",
    }
    for key in keys:
        storage.put(key, b"{}")
    assert set(storage.list()) == keys
    assert set(storage.list("runs/p/r/history/")) == {
        "runs/p/r/history/0000000000.jsonl",
        "runs/p/r/history/0000000010.jsonl",
    }
    assert set(storage.list("runs/p/r")) == keys - {"raw/x.npy"}  # a key start, not only a folder
    assert set(storage.list("runs/p/r/")) == keys - {"raw/x.npy", "runs/p/r2/history/0000000000.jsonl"}
    assert list(storage.list("runs/nobody/")) == []


def test_delete_many_removes_every_key_and_ignores_missing_ones(storage: Storage) -> None:
    keys = [f"index/j/{i:04d}.idx" for i in range(1005)]  # past S3's 1,000 keys a request
    for key in keys[:3] + keys[-3:]:
        storage.put(key, b"x")
    storage.put("index/keep.idx", b"y")
    storage.delete_many(keys)
    assert list(storage.list("index/")) == ["index/keep.idx"]


def test_children_names_the_folders_of_one_level_only(storage: Storage) -> None:
    for key in ("runs/a/r1/run.json", "runs/a/r1/manifests/0/k/0.json", "runs/a/r2/run.json",
                "runs/b%20c/r3/history/0.jsonl", "runs/top.json", "raw/x.npy"):
        storage.put(key, b"{}")
    assert storage.children("runs/") == ["a", "b%20c"]
    assert storage.children("runs/a") == ["r1", "r2"]
    assert storage.children("runs/a/r1/") == ["manifests"]
    assert storage.children("nothing/") == []


def test_encoded_user_keys_are_stored_and_listed_as_they_are(storage: Storage) -> None:
    key = paths.manifest_key("demo", "run1", 3, "val/driving scene ü", 0)
    storage.put(key, b"{}")
    assert storage.get(key) == b"{}"
    assert list(storage.list(paths.manifests_prefix("demo", "run1"))) == [key]


def test_storages_under_sibling_roots_do_not_see_each_others_objects(
    backend: tuple[Storage, Callable[[str], Storage]]
) -> None:
    storage, open_sibling = backend
    sibling = open_sibling("store2")
    storage.put("raw/mine", b"a")
    sibling.put("raw/theirs", b"b")
    assert list(storage.list()) == ["raw/mine"]
    assert list(sibling.list()) == ["raw/theirs"]
    assert not sibling.exists("raw/mine")


@pytest.mark.parametrize("key", UNSAFE_KEYS)
@pytest.mark.parametrize("operation", ["put", "get", "size", "exists", "delete", "stream"])
def test_a_key_that_could_escape_the_root_is_refused_by_every_operation(
    storage: Storage, operation: str, key: str
) -> None:
    call = {
        "put": lambda: storage.put(key, b"evil"),
        "get": lambda: storage.get(key),
        "size": lambda: storage.size(key),
        "exists": lambda: storage.exists(key),
        "delete": lambda: storage.delete(key),
        "stream": lambda: storage.stream(key, 0, 4),
    }[operation]
    with pytest.raises(UnsafeKey) as info:
        call()
    assert info.value.code == "unsafe_key"
    assert info.value.message == f"storage key {key!r} is not a clean relative path"
    assert list(storage.list()) == []


@pytest.mark.parametrize("prefix", ["../", "..", "/etc/", "runs/../../", "raw\\", "runs/\x00"])
def test_list_refuses_a_prefix_that_could_escape_the_root(storage: Storage, prefix: str) -> None:
    with pytest.raises(UnsafeKey):
        list(storage.list(prefix))


def test_key_of_maps_a_uri_of_this_storage_back_to_its_key(storage: Storage) -> None:
    uri = storage.put("media/image/a.png", b"png")
    assert storage.key_of(uri) == "media/image/a.png"
    assert storage.get(storage.key_of(uri)) == b"png"


def test_key_of_refuses_uris_of_another_bucket_or_root_and_names_this_one(storage: Storage) -> None:
    elsewhere = [
        storage.url + "2/raw/x",  # a sibling root whose name starts like this one
        storage.url.rsplit("/", 1)[0] + "/other/raw/x",
        "s3://another-bucket/raw/x",
        "file:///etc/passwd",
        "raw/x",
        "",
    ]
    for uri in elsewhere:
        with pytest.raises(UnsafeKey) as info:
            storage.key_of(uri)
        assert info.value.message == f"URI {uri!r} is outside this storage ({storage.url})"


@pytest.mark.parametrize("tail", ["../secret", "raw/../../secret", "/raw/x", "raw\\..\\x", "", "raw/a\x00"])
def test_key_of_refuses_a_uri_that_escapes_this_storage(storage: Storage, tail: str) -> None:
    with pytest.raises(UnsafeKey, match="is not a clean relative path"):
        storage.key_of(f"{storage.url}/{tail}")


def test_key_of_refuses_what_is_not_a_str(storage: Storage) -> None:
    with pytest.raises(UnsafeKey, match="is outside this storage"):
        storage.key_of(None)  # type: ignore[arg-type]


HEX = "ab" * 32


def test_stored_key_reads_a_layout_uri_of_another_root_by_its_key(storage: Storage) -> None:
    # A manifest written before its storage was copied or moved names the old root.
    for key in [f"raw/{HEX}.npy", f"media/image/{HEX}.png", f"media/object3d/{HEX}.pts.json"]:
        for old_root in ["file:///old/place/data", "s3://old-bucket", "s3://old-bucket/team/a",
                         "file:///srv/media/data", "file:///srv/raw"]:
            assert storage.stored_key(f"{old_root}/{key}") == key
        assert storage.stored_key(storage.uri(key)) == key


def test_stored_key_of_this_storage_is_key_of(storage: Storage) -> None:
    assert storage.stored_key(storage.uri("runs/p/r/run.json")) == "runs/p/r/run.json"


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "s3://other/runs/p/r/run.json", f"raw/{HEX}.npy", "",
                                 f"file:///x/raw/{HEX[:-1]}.npy", f"file:///x/raw/sub/{HEX}.npy"])
def test_stored_key_refuses_a_uri_of_another_root_that_is_no_layout_key(storage: Storage, uri: str) -> None:
    with pytest.raises(UnsafeKey) as info:
        storage.stored_key(uri)
    assert info.value.message == f"URI {uri!r} is outside this storage ({storage.url})"


def test_stored_key_refuses_a_layout_lookalike_that_escapes(storage: Storage) -> None:
    with pytest.raises(UnsafeKey, match="is not a clean relative path"):
        storage.stored_key(f"file:///x/media/../{HEX}.png")


# -- opening by URL ------------------------------------------------------------

def test_open_storage_picks_the_backend_by_scheme(tmp_path: Path) -> None:
    storage = open_storage(f"file://{tmp_path}/data/")
    assert isinstance(storage, FileStorage)
    assert storage.url == f"file://{tmp_path}/data"
    assert repr(storage) == f"FileStorage('file://{tmp_path}/data')"
    s3 = open_storage("s3://some-bucket/a/b/", Settings(s3_endpoint_url="http://127.0.0.1:1"))
    assert isinstance(s3, S3Storage)
    assert (s3.url, s3.bucket, s3.prefix) == ("s3://some-bucket/a/b", "some-bucket", "a/b")


@pytest.mark.parametrize("url", ["gs://bucket/x", "/plain/path", "memory:"])
def test_an_unknown_scheme_is_a_config_error_listing_the_registered_ones(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_storage(url)
    assert str(info.value) == f"no storage backend for {url!r}; registered schemes: file://, s3://"


def test_an_s3_url_without_a_bucket_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        open_storage("s3:///prefix")
    assert str(info.value) == "DARKROOM_STORAGE_URL='s3:///prefix' names no bucket; accepted: s3://BUCKET[/PREFIX]"


@pytest.mark.parametrize("url", ["s3://ab/prefix", "s3://192.168.1.1/x", "s3://a..b/x", "s3://-bucket/x"])
def test_an_s3_bucket_name_s3_refuses_is_a_config_error_not_an_outage(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_storage(url, Settings(s3_endpoint_url="http://127.0.0.1:1"))
    assert str(info.value).startswith(f"DARKROOM_STORAGE_URL={url!r}: ")
    assert "accepted: a bucket name of 3-63 lowercase letters, digits, '.' or '-'" in str(info.value)


def test_an_s3_endpoint_without_a_host_is_a_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^DARKROOM_S3_ENDPOINT_URL='http://' names no host$"):
        open_storage("s3://bucket", Settings(s3_endpoint_url="http://"))


# -- S3 faults -------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("operation", ["put", "get", "size", "list", "delete"])
def test_an_unreachable_s3_endpoint_raises_storage_unavailable_quickly(operation: str) -> None:
    port = _closed_port()
    settings = Settings(s3_endpoint_url=f"http://127.0.0.1:{port}", s3_access_key="k", s3_secret_key="s")
    storage = open_storage("s3://darkroom-dead/pre", settings)
    call = {
        "put": lambda: storage.put("raw/x", b"1"),
        "get": lambda: storage.get("raw/x"),
        "size": lambda: storage.size("raw/x"),
        "list": lambda: list(storage.list("raw/")),
        "delete": lambda: storage.delete("raw/x"),
    }[operation]
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as info:
        call()
    assert time.monotonic() - started < 10  # a sanity bound: minio's default client retries for long
    assert isinstance(info.value, Transient)  # so tasks retry it
    assert "S3 endpoint unreachable" in str(info.value)
    assert str(port) in str(info.value)


def test_an_s3_endpoint_that_goes_away_after_use_raises_storage_unavailable_on_every_operation() -> None:
    from moto.server import ThreadedMotoServer

    port = _closed_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        settings = Settings(s3_endpoint_url=f"http://127.0.0.1:{port}", s3_access_key="k", s3_secret_key="s")
        storage = open_storage(f"s3://darkroom-{uuid.uuid4().hex[:8]}/pre", settings)
        storage.put("raw/x", b"1")  # the bucket is made and checked while the server is up
        assert storage.get("raw/x") == b"1"
    finally:
        server.stop()
    expected = {
        "reading raw/x": lambda: storage.get("raw/x"),
        "writing raw/y": lambda: storage.put("raw/y", b"2"),
        "checking raw/x": lambda: storage.size("raw/x"),
        "listing raw/": lambda: list(storage.list("raw/")),
        "deleting raw/x": lambda: storage.delete("raw/x"),
    }
    for what, call in expected.items():
        with pytest.raises(StorageUnavailable, match=f"^{what}: S3 endpoint unreachable"):
            call()


class _OneAnswerS3:
    """A loopback HTTP server that says its bucket exists and answers every other request with one
    S3 error (status, content type, body): the faults moto's server cannot be asked to make."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.answer: tuple[int, str, bytes] = (200, "application/xml", b"")
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                bucket_check = self.command == "HEAD" and self.path.strip("/").count("/") == 0
                status, content_type, body = (200, "application/xml", b"") if bucket_check else outer.answer
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _reply

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        port = self.server.server_address[1]
        settings = Settings(s3_endpoint_url=f"http://127.0.0.1:{port}", s3_access_key="k", s3_secret_key="s")
        self.storage = open_storage("s3://darkroom-faults/pre", settings)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def one_answer_s3() -> "Iterator[_OneAnswerS3]":
    server = _OneAnswerS3()
    yield server
    server.close()


def _s3_error(code: str, message: str = "from the test server") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
            "<Resource>/darkroom-faults/pre/raw/x</Resource><RequestId>1</RequestId></Error>").encode()


@pytest.mark.parametrize("status, code", [(503, "SlowDown"), (503, "ServiceUnavailable"),
                                          (500, "InternalError"), (400, "RequestTimeout")])
def test_s3_server_faults_are_transient_and_say_the_s3_code(
    one_answer_s3: _OneAnswerS3, status: int, code: str
) -> None:
    one_answer_s3.answer = (status, "application/xml", _s3_error(code, "please retry"))
    for what, call in [("reading raw/x", lambda: one_answer_s3.storage.get("raw/x")),
                       ("writing raw/x", lambda: one_answer_s3.storage.put("raw/x", b"1"))]:
        with pytest.raises(StorageUnavailable) as info:
            call()
        assert isinstance(info.value, Transient)
        assert str(info.value) == f"{what}: S3 {code}: please retry"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_an_s3_server_error_without_an_s3_code_is_transient_by_its_status(
    one_answer_s3: _OneAnswerS3, status: int
) -> None:
    # A proxy or load balancer in front of S3 answers with its own HTML page.
    one_answer_s3.answer = (status, "text/html", b"<html><body>Bad Gateway</body></html>")
    with pytest.raises(StorageUnavailable, match=f"^reading raw/x: S3 server error {status}$"):
        one_answer_s3.storage.get("raw/x")


def test_s3_access_denied_is_permission_denied_and_not_retried(one_answer_s3: _OneAnswerS3) -> None:
    one_answer_s3.answer = (403, "application/xml", _s3_error("AccessDenied", "Access Denied"))
    with pytest.raises(PermissionDenied) as info:
        one_answer_s3.storage.put("raw/x", b"1")
    assert not isinstance(info.value, Transient)
    assert str(info.value) == "writing raw/x: S3 AccessDenied: Access Denied"


@pytest.mark.parametrize("status, content_type, body", [
    (400, "application/xml", _s3_error("InvalidArgument", "bad header")),
    (501, "application/xml", _s3_error("NotImplemented", "no such feature")),
    (418, "text/plain", b"teapot"),
])
def test_an_s3_answer_darkroom_does_not_know_propagates_as_itself(
    one_answer_s3: _OneAnswerS3, status: int, content_type: str, body: bytes
) -> None:
    from minio.error import MinioException

    one_answer_s3.answer = (status, content_type, body)
    with pytest.raises(MinioException) as info:
        one_answer_s3.storage.get("raw/x")
    assert not isinstance(info.value, DarkroomError)


def test_a_programming_error_in_a_storage_call_propagates_as_itself_not_as_an_outage(storage: Storage) -> None:
    # Before: S3 called any exception "endpoint unreachable", and a worker retried it for ~45 minutes.
    with pytest.raises(TypeError):
        storage.put("raw/x", "text, not bytes")  # type: ignore[arg-type]
    assert not storage.exists("raw/x")


def test_a_missing_s3_object_is_not_found_and_not_retried(s3_storage: S3Storage) -> None:
    with pytest.raises(NotFound, match="^reading raw/missing: S3 NoSuchKey") as info:
        s3_storage._get("raw/missing", None)
    assert not isinstance(info.value, Transient)


def test_s3_creates_its_bucket_on_first_use(s3_storage: S3Storage) -> None:
    assert not s3_storage.client.bucket_exists(s3_storage.bucket)
    s3_storage.put("raw/x", b"1")
    assert s3_storage.client.bucket_exists(s3_storage.bucket)
    names = [o.object_name for o in s3_storage.client.list_objects(s3_storage.bucket, recursive=True)]
    assert names == ["pre/raw/x"]


# -- file edges --------------------------------------------------------------------

def test_a_file_storage_writes_through_a_temp_file_and_never_lists_one(tmp_path: Path) -> None:
    storage = open_storage(f"file://{tmp_path}")
    storage.put("raw/a", b"1")
    (tmp_path / "raw" / ".tmp-crashed-writer").write_bytes(b"partial")
    assert list(storage.list()) == ["raw/a"]
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [".tmp-crashed-writer", "a"]


@pytest.mark.parametrize("umask, file_mode, folder_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)],
                         ids=["umask-022", "umask-077"])
def test_item_17_stored_files_follow_the_umask(tmp_path: Path, umask: int, file_mode: int, folder_mode: int) -> None:
    # Issue 16, item 17: every stored file was 0600 whatever the umask.
    storage = open_storage(f"file://{tmp_path / 'store'}")
    old = os.umask(umask)
    try:
        storage.put("media/image/a.png", b"png")
        storage.put("media/image/a.png", b"replaced")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "store" / "media" / "image" / "a.png").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "store" / "media" / "image").stat().st_mode) == folder_mode


def test_a_file_storage_treats_a_folder_as_no_object(tmp_path: Path) -> None:
    storage = open_storage(f"file://{tmp_path}")
    storage.put("runs/p/r/run.json", b"{}")
    assert storage.size("runs/p/r") is None
    with pytest.raises(NotFound):
        storage.get("runs/p/r")
    with pytest.raises(NotFound):
        storage.get("runs/p/r/run.json/deeper")


def test_a_relative_file_url_is_rooted_at_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = open_storage("file://./darkroom-data")
    assert storage.url == f"file://{tmp_path.resolve()}/darkroom-data"
    storage.put("raw/a", b"1")
    assert (tmp_path / "darkroom-data" / "raw" / "a").read_bytes() == b"1"
