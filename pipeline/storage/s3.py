"""Storage in S3 or MinIO (``s3://bucket/prefix``) through the `minio` client.

The endpoint and keys come from settings (``DARKROOM_S3_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``).  The bucket is created if
missing.  minio's default HTTP client retries for seconds against a dead
endpoint (STACK_NOTES.md); darkroom's retries are its own (task retries with
backoff, the sender's spool), so this client fails fast and says so.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from darkroom.pipeline.errors import (
    ConfigError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StorageError,
    StorageUnavailable,
)
from darkroom.pipeline.storage import ObjectInfo, Storage

if TYPE_CHECKING:
    from darkroom.pipeline.settings import Settings

# S3's answers to darkroom's errors, in one table (STYLE.md, rule 7): an
# answer is looked up by its S3 error code, and one without a known code by
# its HTTP status.  Only faults of the server (5xx, throttling) are
# transient; a missing object or a refused credential is not retried; any
# other answer, and any exception that is not the network's, is a bug in
# the request and propagates as itself (a worker fails the item as
# `internal_error` with its traceback), never as an outage retried for 45 minutes.
_S3_ANSWERS: dict[str | int, type[StorageError]] = {
    "NoSuchKey": NotFound,
    "NoSuchBucket": NotFound,
    "NoSuchObject": NotFound,
    "AccessDenied": PermissionDenied,
    "InvalidAccessKeyId": PermissionDenied,
    "SignatureDoesNotMatch": PermissionDenied,
    "SlowDown": StorageUnavailable,
    "ServiceUnavailable": StorageUnavailable,
    "InternalError": StorageUnavailable,
    "RequestTimeout": StorageUnavailable,
    # Statuses, for answers without a code (a proxy's HTML error page, an empty 503).
    # 501 is not here: the server does not implement the request, and will not.
    429: StorageUnavailable,  # Too Many Requests: throttled, as SlowDown
    500: StorageUnavailable,
    502: StorageUnavailable,
    503: StorageUnavailable,
    504: StorageUnavailable,
}


def _network_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of a connection that failed or timed out (urllib3's and the socket's)."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ProxyError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    # With retries=0 urllib3 raises MaxRetryError for a refused connection or
    # a timeout; a connection that drops mid-body raises ProtocolError.
    return (MaxRetryError, NewConnectionError, ProtocolError, ProxyError, Urllib3Timeout,
            ConnectionError, TimeoutError)


def _answer_of(error: BaseException) -> tuple[str | None, int | None] | None:
    """(S3 code, HTTP status) of an error answer the server sent, or None for other exceptions."""
    from minio.error import InvalidResponseError, S3Error, ServerError

    if isinstance(error, S3Error):
        return error.code, getattr(error.response, "status", None)
    if isinstance(error, ServerError):
        return None, error.status_code
    if isinstance(error, InvalidResponseError):
        return None, error._code  # minio keeps the status only there
    return None


def _translated(error: BaseException, what: str) -> BaseException:
    """The darkroom error for `error`, or `error` itself when it is not the network's or the server's."""
    if isinstance(error, _network_errors()):
        return StorageUnavailable(f"{what}: S3 endpoint unreachable ({type(error).__name__}: {error})")
    answer = _answer_of(error)
    if answer is None:
        return error
    code, status = answer
    cls = _S3_ANSWERS.get(code or "") or _S3_ANSWERS.get(status or 0)
    if cls is None:
        return error
    if code:
        return cls(f"{what}: S3 {code}: {getattr(error, 'message', '')}")
    return cls(f"{what}: S3 server error {status}")


@contextmanager
def _at_the_edge(what: str) -> Iterator[None]:
    """Translate what the S3 client raises inside the block (`_translated`); darkroom's errors pass."""
    try:
        yield
    except (InvalidInput, StorageError):
        raise
    except Exception as e:
        translated = _translated(e, what)
        if translated is e:
            raise
        raise translated from e


def _translate_delete(error: object) -> StorageError:
    """A key DeleteObjects did not delete, as a darkroom error (an unknown code is a `StorageError`)."""
    code = getattr(error, "code", "") or ""
    cls = _S3_ANSWERS.get(code, StorageError)
    return cls(f"deleting {getattr(error, 'name', '?')}: S3 {code}: {getattr(error, 'message', '')}")


class S3Storage(Storage):
    """Objects under ``prefix/`` in one bucket."""

    def __init__(self, url: str, settings: "Settings | None"):
        import urllib3
        from minio import Minio

        parsed = urlparse(url)
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        if not self.bucket:
            raise ConfigError(f"DARKROOM_STORAGE_URL={url!r} names no bucket; accepted: s3://BUCKET[/PREFIX]")
        # Checked here, not left to the client: minio raises a ValueError on the
        # first request, which would read as an unreachable endpoint and be retried.
        from minio.helpers import check_bucket_name

        try:
            check_bucket_name(self.bucket)
        except ValueError as e:
            raise ConfigError(
                f"DARKROOM_STORAGE_URL={url!r}: {e}; accepted: a bucket name of 3-63 "
                "lowercase letters, digits, '.' or '-'"
            ) from None
        super().__init__(f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else ""))
        endpoint = (settings.s3_endpoint_url if settings else None) or "https://s3.amazonaws.com"
        ep = urlparse(endpoint if "://" in endpoint else "https://" + endpoint)
        if not ep.hostname:
            raise ConfigError(f"DARKROOM_S3_ENDPOINT_URL={endpoint!r} names no host")
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=60.0),
            retries=urllib3.Retry(total=0, redirect=0),
            maxsize=16,
        )
        self.client = Minio(
            ep.netloc,
            access_key=settings.s3_access_key if settings else None,
            secret_key=settings.s3_secret_key if settings else None,
            secure=ep.scheme == "https",
            region=settings.s3_region if settings else "us-east-1",
            http_client=http,
        )
        self._bucket_checked = False

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _ensure_bucket(self) -> None:
        if self._bucket_checked:
            return
        from minio.error import S3Error

        with _at_the_edge(f"checking bucket {self.bucket}"):
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket)
                except S3Error as e:  # a racing process may have made it
                    if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
        self._bucket_checked = True

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        self._ensure_bucket()
        with _at_the_edge(f"writing {key}"):
            self.client.put_object(
                self.bucket, self._full(key), io.BytesIO(data), len(data), content_type=content_type
            )

    @contextmanager
    def _opened(self, key: str, **byte_range: int) -> Iterator[Any]:
        """A GET response for `key` (of `offset`/`length` if given), closed after; errors translated."""
        self._ensure_bucket()
        response = None
        try:
            with _at_the_edge(f"reading {key}"):
                response = self.client.get_object(self.bucket, self._full(key), **byte_range)
                yield response
        finally:
            if response is not None:
                response.close()
                response.release_conn()

    def _get(self, key: str, max_bytes: int | None) -> bytes:
        with self._opened(key) as response:
            length = response.headers.get("Content-Length")
            if max_bytes is not None and length is not None and int(length) > max_bytes:
                raise InvalidInput(
                    "too_large",
                    f"{key} is {length} bytes; the bound is {max_bytes} (DARKROOM_MAX_PAYLOAD_BYTES)",
                )
            if max_bytes is None:
                return response.read()
            # No length announced (chunked): read one byte past the bound to know.
            data = response.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise InvalidInput("too_large", f"{key} is over the bound of {max_bytes} bytes "
                                   "(DARKROOM_MAX_PAYLOAD_BYTES)")
            return data

    def _stream(self, key: str, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        if end <= start:
            return
        # A ranged GET: only the bytes asked for cross the network.
        with self._opened(key, offset=start, length=end - start) as response:
            yield from response.stream(chunk_size)

    def _size(self, key: str) -> int | None:
        self._ensure_bucket()
        try:
            with _at_the_edge(f"checking {key}"):
                return self.client.stat_object(self.bucket, self._full(key)).size
        except NotFound:
            return None

    def _list(self, prefix: str) -> Iterator[str]:
        self._ensure_bucket()
        skip = len(self.prefix) + 1 if self.prefix else 0
        with _at_the_edge(f"listing {prefix}"):
            for obj in self.client.list_objects(self.bucket, prefix=self._full(prefix), recursive=True):
                yield obj.object_name[skip:]

    def _stat(self, key: str) -> ObjectInfo | None:
        self._ensure_bucket()
        try:
            with _at_the_edge(f"checking {key}"):
                found = self.client.stat_object(self.bucket, self._full(key))
        except NotFound:
            return None
        modified = found.last_modified.timestamp() if found.last_modified is not None else None
        return ObjectInfo(key, int(found.size or 0), modified)

    def _list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        self._ensure_bucket()
        skip = len(self.prefix) + 1 if self.prefix else 0
        with _at_the_edge(f"listing {prefix}"):
            for obj in self.client.list_objects(self.bucket, prefix=self._full(prefix), recursive=True):
                modified = obj.last_modified.timestamp() if obj.last_modified is not None else None
                yield ObjectInfo(obj.object_name[skip:], int(obj.size or 0), modified)

    def _children(self, prefix: str) -> Iterator[str]:
        self._ensure_bucket()
        full = self._full(prefix)
        with _at_the_edge(f"listing {prefix}"):
            # Not recursive: S3 answers with the common prefixes of this level.
            for obj in self.client.list_objects(self.bucket, prefix=full, recursive=False):
                if obj.is_dir:
                    yield obj.object_name[len(full):].rstrip("/")

    def _delete_many(self, keys: list[str]) -> None:
        from minio.deleteobjects import DeleteObject

        self._ensure_bucket()
        with _at_the_edge(f"deleting {len(keys)} objects"):
            # One DeleteObjects request per 1,000 keys (S3's limit for one request).
            for start in range(0, len(keys), 1000):
                errors = list(self.client.remove_objects(
                    self.bucket, [DeleteObject(self._full(k)) for k in keys[start:start + 1000]]))
                if errors:
                    raise _translate_delete(errors[0])

    def _delete(self, key: str) -> None:
        self._ensure_bucket()
        with _at_the_edge(f"deleting {key}"):
            self.client.remove_object(self.bucket, self._full(key))
