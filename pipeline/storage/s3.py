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
from darkroom.pipeline.storage import Storage

if TYPE_CHECKING:
    from darkroom.pipeline.settings import Settings

# S3 error codes to darkroom's errors, in one table (STYLE.md, rule 7).
_S3_CODES: dict[str, type[StorageError]] = {
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
}


def _translate(error: Exception, what: str) -> StorageError:
    from minio.error import S3Error, ServerError

    if isinstance(error, S3Error):
        cls = _S3_CODES.get(error.code, StorageError)
        return cls(f"{what}: S3 {error.code}: {error.message}")
    if isinstance(error, ServerError):
        return StorageUnavailable(f"{what}: S3 server error {error.status_code}")
    return StorageUnavailable(f"{what}: S3 endpoint unreachable ({type(error).__name__}: {error})")


def _translate_delete(error: object) -> StorageError:
    code = getattr(error, "code", "") or ""
    cls = _S3_CODES.get(code, StorageError)
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
        try:
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket)
                except Exception as e:  # a racing process may have made it
                    if "BucketAlreadyOwnedByYou" not in str(e) and "BucketAlreadyExists" not in str(e):
                        raise
        except StorageError:
            raise
        except Exception as e:
            raise _translate(e, f"checking bucket {self.bucket}") from e
        self._bucket_checked = True

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        self._ensure_bucket()
        try:
            self.client.put_object(
                self.bucket, self._full(key), io.BytesIO(data), len(data), content_type=content_type
            )
        except Exception as e:
            raise _translate(e, f"writing {key}") from e

    @contextmanager
    def _opened(self, key: str, **byte_range: int) -> Iterator[Any]:
        """A GET response for `key` (of `offset`/`length` if given), closed after; errors translated."""
        self._ensure_bucket()
        response = None
        try:
            response = self.client.get_object(self.bucket, self._full(key), **byte_range)
            yield response
        except (InvalidInput, StorageError):
            raise
        except Exception as e:
            raise _translate(e, f"reading {key}") from e
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
            return self.client.stat_object(self.bucket, self._full(key)).size
        except Exception as e:
            error = _translate(e, f"checking {key}")
            if isinstance(error, NotFound):
                return None
            raise error from e

    def _list(self, prefix: str) -> Iterator[str]:
        self._ensure_bucket()
        skip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for obj in self.client.list_objects(self.bucket, prefix=self._full(prefix), recursive=True):
                yield obj.object_name[skip:]
        except Exception as e:
            raise _translate(e, f"listing {prefix}") from e

    def _children(self, prefix: str) -> Iterator[str]:
        self._ensure_bucket()
        full = self._full(prefix)
        try:
            # Not recursive: S3 answers with the common prefixes of this level.
            for obj in self.client.list_objects(self.bucket, prefix=full, recursive=False):
                if obj.is_dir:
                    yield obj.object_name[len(full):].rstrip("/")
        except Exception as e:
            raise _translate(e, f"listing {prefix}") from e

    def _delete_many(self, keys: list[str]) -> None:
        from minio.deleteobjects import DeleteObject

        self._ensure_bucket()
        try:
            # One DeleteObjects request per 1,000 keys (S3's limit for one request).
            for start in range(0, len(keys), 1000):
                errors = list(self.client.remove_objects(
                    self.bucket, [DeleteObject(self._full(k)) for k in keys[start:start + 1000]]))
                if errors:
                    raise _translate_delete(errors[0])
        except StorageError:
            raise
        except Exception as e:
            raise _translate(e, f"deleting {len(keys)} objects") from e

    def _delete(self, key: str) -> None:
        self._ensure_bucket()
        try:
            self.client.remove_object(self.bucket, self._full(key))
        except Exception as e:
            raise _translate(e, f"deleting {key}") from e
