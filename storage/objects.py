"""Object storage for archived bytes: one interface, two backends.

``open_store(config)`` returns an :class:`S3Store` when ``XXGK_S3_ENDPOINT`` is set (any S3-compatible server, through
the ``minio`` client) and a :class:`LocalStore` under ``config.objects_dir`` otherwise. Both take the same keys
(``warcs/<run-id>/<segment>.warc.gz``), validated identically by :func:`validate_key`, and offer:

``put_bytes(key, data, metadata)``, ``put_file(key, path, metadata)``, ``put_stream(key, stream, length, metadata,
part_size)`` -> :class:`ObjectInfo`; ``get_bytes(key)``; ``get_range(key, offset, length)`` (exactly ``length`` bytes
or an error); ``open_stream(key)`` (a readable binary file object, use it in ``with``); ``stat(key)`` ->
:class:`ObjectInfo` (size, sha256, etag, metadata); ``exists(key)``; ``list(prefix)`` (sorted keys);
``delete(key)``.

A write is all or nothing: the local backend writes a hidden temp file, fsyncs it, renames it into place and fsyncs
the directory; S3 only shows an object once its (multipart) upload completed. Every failure is an
:class:`ObjectStoreError` whose message says what to check.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, BinaryIO, Callable, Iterator, Mapping, TypeVar

from storage.config import Config

CHUNK = 1 << 20
MIN_PART_SIZE = 5 * 1024 * 1024       # the S3 minimum for every part but the last
DEFAULT_PART_SIZE = 16 * 1024 * 1024
MAX_KEY_BYTES = 1024                  # the S3 limit
MAX_SEGMENT_BYTES = 255               # a file name on common file systems
_META_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_T = TypeVar("_T")


# ---------------------------------------------------------------- errors

class ObjectStoreError(Exception):
    """Any failure of the object store; the message names the key or the setting to check."""


class InvalidKey(ObjectStoreError, ValueError):
    """A key that could escape the store or that S3 and a file system would not treat alike."""


class ObjectNotFound(ObjectStoreError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "object not found"


class ObjectRangeError(ObjectStoreError):
    """A ranged read asked for bytes the object does not have."""


class StoreAuthError(ObjectStoreError):
    """The S3 server refused the credentials."""


class BucketMissing(ObjectStoreError):
    """The configured bucket does not exist and may not be created."""


class StoreUnavailable(ObjectStoreError):
    """The S3 server could not be reached (after retries) or broke off a transfer."""


# ---------------------------------------------------------------- shared types

@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str | None = None      # hex; None when the store was never told (e.g. an unknown-length stream on S3)
    etag: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    modified: datetime | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff for transient failures (connection refused/reset, 5xx, timeouts)."""

    attempts: int = 5
    first_delay: float = 0.25
    max_delay: float = 4.0

    def delays(self) -> Iterator[float]:
        delay = self.first_delay
        for _ in range(max(self.attempts - 1, 0)):
            yield delay
            delay = min(delay * 2, self.max_delay)


def validate_key(key: object) -> str:
    """Return ``key`` if it is a safe relative object key, else raise :class:`InvalidKey` saying why."""
    if not isinstance(key, str):
        raise InvalidKey(f"object key must be a string, not {type(key).__name__}")
    if not key:
        raise InvalidKey("object key is empty")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidKey(f"object key longer than {MAX_KEY_BYTES} bytes: {key[:60]!r}…")
    if "\x00" in key:
        raise InvalidKey(f"object key contains NUL: {key!r}")
    if "\\" in key:
        raise InvalidKey(f"object key contains a backslash: {key!r}")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise InvalidKey(f"object key contains a control character: {key!r}")
    if key.startswith("/"):
        raise InvalidKey(f"object key is absolute: {key!r}")
    for segment in key.split("/"):
        if not segment:
            raise InvalidKey(f"object key has an empty segment: {key!r}")
        if segment in (".", ".."):
            raise InvalidKey(f"object key has a {segment!r} segment: {key!r}")
        if segment.startswith("."):
            # hidden names hold the local store's temp files and metadata
            raise InvalidKey(f"object key segment starts with '.': {key!r}")
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
            raise InvalidKey(f"object key segment longer than {MAX_SEGMENT_BYTES} bytes: {key!r}")
    return key


def _validate_prefix(prefix: str) -> str:
    if not isinstance(prefix, str):
        raise InvalidKey(f"prefix must be a string, not {type(prefix).__name__}")
    if not prefix:
        return prefix
    # a prefix is a key, possibly ending in "/" or in the middle of a segment
    validate_key(prefix.rstrip("/") or "x")
    return prefix


def _validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata must survive S3 headers: lower-case ASCII names, printable ASCII values."""
    clean: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if not isinstance(name, str) or not _META_NAME.match(name):
            raise ObjectStoreError(f"metadata name {name!r}: use lower-case letters, digits and '-'")
        value = str(value)
        if not value.isascii() or any(ord(ch) < 0x20 for ch in value):
            raise ObjectStoreError(f"metadata {name}={value!r}: only printable ASCII survives S3 headers")
        clean[name] = value
    return clean


def _validate_span(offset: int, length: int) -> None:
    if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 0:
        raise ObjectRangeError(f"bad range: offset={offset!r} length={length!r}")


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ObjectStore(ABC):
    """The interface both backends implement (see the module docstring); a backend missing a method cannot be built."""

    location: str = ""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        ...

    @abstractmethod
    def put_file(self, key: str, path: str | Path, metadata: Mapping[str, str] | None = None,
                 part_size: int = DEFAULT_PART_SIZE) -> ObjectInfo:
        ...

    @abstractmethod
    def put_stream(self, key: str, stream: IO[bytes], length: int = -1, metadata: Mapping[str, str] | None = None,
                   part_size: int = DEFAULT_PART_SIZE, sha256: str | None = None) -> ObjectInfo:
        ...

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        ...

    @abstractmethod
    def get_range(self, key: str, offset: int, length: int) -> bytes:
        ...

    @abstractmethod
    def open_stream(self, key: str) -> BinaryIO:
        ...

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        ...

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        ...

    @abstractmethod
    def delete(self, key: str) -> None:
        ...

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""


def open_store(config: Config, *, create_bucket: bool = True, retry: RetryPolicy | None = None) -> ObjectStore:
    """The store the configuration names: S3 when ``XXGK_S3_ENDPOINT`` is set, else the local directory."""
    if config.uses_s3:
        return S3Store.connect(config, create_bucket=create_bucket, retry=retry)
    return LocalStore(config.objects_dir)


# ---------------------------------------------------------------- local directory

class LocalStore(ObjectStore):
    """Objects as files under ``root``; user metadata and the sha256 in a hidden sidecar ``.<name>.meta``."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ObjectStoreError(f"cannot create the object directory {self.root}: {exc} (check XXGK_DATA_DIR)") from exc
        self.location = str(self.root)

    # -- paths

    def _path(self, key: str) -> Path:
        validate_key(key)
        path = self.root.joinpath(*key.split("/"))
        # a symlink inside the store must not lead outside it
        real = Path(os.path.realpath(path))
        if real != self.root and self.root not in real.parents:
            raise InvalidKey(f"object key resolves outside the store: {key!r}")
        return path

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.meta")

    def _make_parent(self, path: Path) -> None:
        missing = []
        parent = path.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        for directory in reversed(missing):
            try:
                directory.mkdir()
            except FileExistsError:
                pass
            fsync_dir(directory.parent)

    # -- writes

    def _write_atomically(self, key: str, fill: Callable[[BinaryIO], tuple[int, str]],
                          metadata: Mapping[str, str] | None) -> ObjectInfo:
        meta = _validate_metadata(metadata)
        path = self._path(key)
        if path.is_dir():
            raise ObjectStoreError(f"cannot write {key!r}: a directory of that name exists")
        try:
            self._make_parent(path)
        except (NotADirectoryError, FileExistsError) as exc:
            raise ObjectStoreError(f"cannot write {key!r}: a parent segment is an object, not a folder") from exc
        tmp = path.with_name(f".tmp-{uuid.uuid4().hex}")
        try:
            with open(tmp, "xb") as handle:
                size, sha256 = fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            fsync_dir(path.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        stat = path.stat()
        self._write_sidecar(path, {"size": size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256, "metadata": meta})
        return ObjectInfo(key, size, sha256, sha256, meta, _mtime(stat.st_mtime))

    def _write_sidecar(self, path: Path, content: dict) -> None:
        meta_path = self._meta_path(path)
        tmp = meta_path.with_name(f".tmp-{uuid.uuid4().hex}")
        try:
            with open(tmp, "x", encoding="utf-8") as handle:
                json.dump(content, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, meta_path)
        except OSError:
            # the sidecar only caches what stat() can recompute: losing it loses nothing
            tmp.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        data = bytes(data)

        def fill(handle: BinaryIO) -> tuple[int, str]:
            handle.write(data)
            return len(data), hashlib.sha256(data).hexdigest()

        return self._io(key, lambda: self._write_atomically(key, fill, metadata))

    def put_file(self, key: str, path: str | Path, metadata: Mapping[str, str] | None = None,
                 part_size: int = DEFAULT_PART_SIZE) -> ObjectInfo:
        source = Path(path)
        try:
            with open(source, "rb") as stream:
                return self.put_stream(key, stream, metadata=metadata)
        except FileNotFoundError as exc:
            raise ObjectStoreError(f"cannot upload {source}: no such file") from exc

    def put_stream(self, key: str, stream: IO[bytes], length: int = -1, metadata: Mapping[str, str] | None = None,
                   part_size: int = DEFAULT_PART_SIZE, sha256: str | None = None) -> ObjectInfo:
        def fill(handle: BinaryIO) -> tuple[int, str]:
            digest = hashlib.sha256()
            size = 0
            # with a known length read exactly that many bytes, as an S3 upload does
            while length < 0 or size < length:
                chunk = stream.read(CHUNK if length < 0 else min(CHUNK, length - size))
                if not chunk:
                    break
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            if length >= 0 and size != length:
                raise ObjectStoreError(f"stream for {key!r} ended after {size} of {length} bytes: nothing stored")
            if sha256 and sha256 != digest.hexdigest():
                raise ObjectStoreError(f"stream for {key!r} does not match the sha256 given: nothing stored")
            return size, digest.hexdigest()

        return self._io(key, lambda: self._write_atomically(key, fill, metadata))

    # -- reads

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        return self._io(key, path.read_bytes)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        _validate_span(offset, length)
        path = self._path(key)

        def read() -> bytes:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if offset + length > size:
                    raise ObjectRangeError(f"{key!r} has {size} bytes; asked for [{offset}, {offset + length})")
                handle.seek(offset)
                return handle.read(length)

        return self._io(key, read)

    def open_stream(self, key: str) -> BinaryIO:
        path = self._path(key)
        return self._io(key, lambda: open(path, "rb"))

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        stat = self._io(key, path.stat)
        if not path.is_file():
            raise ObjectNotFound(f"no object {key!r} in {self.location}")
        sidecar = self._read_sidecar(path)
        fresh = sidecar.get("size") == stat.st_size and sidecar.get("mtime_ns") == stat.st_mtime_ns
        if fresh and sidecar.get("sha256"):
            sha256, metadata = sidecar["sha256"], dict(sidecar.get("metadata") or {})
        else:
            sha256 = self._io(key, lambda: _sha256_of_file(path))
            metadata = dict(sidecar.get("metadata") or {}) if fresh else {}
        return ObjectInfo(key, stat.st_size, sha256, sha256, metadata, _mtime(stat.st_mtime))

    def _read_sidecar(self, path: Path) -> dict:
        try:
            content = json.loads(self._meta_path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return content if isinstance(content, dict) else {}

    def list(self, prefix: str = "") -> Iterator[str]:
        _validate_prefix(prefix)
        keys = []
        for directory, subdirs, files in os.walk(self.root):
            subdirs[:] = [name for name in subdirs if not name.startswith(".")]
            relative = Path(directory).relative_to(self.root).as_posix()
            for name in files:
                if name.startswith("."):
                    continue
                key = name if relative == "." else f"{relative}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir():
            raise ObjectStoreError(f"cannot delete {key!r}: it is a folder of objects, not an object")
        self._io(key, lambda: path.unlink(missing_ok=True))
        self._meta_path(path).unlink(missing_ok=True)
        fsync_dir(path.parent)

    def _io(self, key: str, action: Callable[[], _T]) -> _T:
        try:
            return action()
        except ObjectStoreError:
            raise
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(f"no object {key!r} in {self.location}") from exc
        except OSError as exc:
            raise ObjectStoreError(f"{key!r} in {self.location}: {exc.strerror or exc}") from exc


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def _mtime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


# ---------------------------------------------------------------- S3 (minio client)

_AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed",
               "InvalidToken", "ExpiredToken", "AllAccessDisabled"}
_TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "ServerError"}


def _split_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """``host:port`` or ``http(s)://host:port`` -> (host:port, secure)."""
    value = endpoint.strip()
    match = re.match(r"^(https?)://", value, re.I)
    if match:
        secure = match.group(1).lower() == "https"
        value = value[match.end():]
    value = value.rstrip("/")
    if not value or "/" in value or "?" in value or " " in value:
        raise ObjectStoreError(f"XXGK_S3_ENDPOINT={endpoint!r}: expected host:port or http(s)://host:port")
    return value, secure


class S3Store(ObjectStore):
    """Objects in one bucket of an S3-compatible server. Build it with :meth:`connect`."""

    def __init__(self, client, bucket: str, endpoint_url: str, retry: RetryPolicy):
        self.client = client
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.retry = retry
        self.location = f"s3://{bucket} at {endpoint_url}"

    @classmethod
    def connect(cls, config: Config, *, create_bucket: bool = True, retry: RetryPolicy | None = None,
                timeout: float = 60.0) -> "S3Store":
        import urllib3
        from minio import Minio

        if not config.s3_endpoint:
            raise ObjectStoreError("no S3 endpoint configured: set XXGK_S3_ENDPOINT")
        if not (config.s3_access_key and config.s3_secret_key):
            raise StoreAuthError("S3 credentials missing: set XXGK_S3_ACCESS_KEY and XXGK_S3_SECRET_KEY")
        host, secure = _split_endpoint(config.s3_endpoint, config.s3_secure)
        endpoint_url = f"{'https' if secure else 'http'}://{host}"
        # urllib3 retries single requests briefly (also each part of a multipart upload); _call() adds the
        # longer backoff for whole operations
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(10.0, timeout), read=timeout),
            maxsize=10,
            retries=urllib3.Retry(total=2, connect=2, read=1, backoff_factor=0.1,
                                  status_forcelist=(500, 502, 503, 504), raise_on_status=False),
        )
        try:
            client = Minio(host, access_key=config.s3_access_key, secret_key=config.s3_secret_key,
                           secure=secure, http_client=http)
        except ValueError as exc:
            raise ObjectStoreError(f"XXGK_S3_ENDPOINT={config.s3_endpoint!r}: {exc}") from exc
        store = cls(client, config.s3_bucket, endpoint_url, retry or RetryPolicy())
        store._ensure_bucket(create_bucket)
        return store

    def _ensure_bucket(self, create: bool) -> None:
        try:
            exists = self._call("checking the bucket", lambda: self.client.bucket_exists(self.bucket))
        except ValueError as exc:
            raise ObjectStoreError(f"XXGK_S3_BUCKET={self.bucket!r}: {exc}") from exc
        if exists:
            return
        if not create:
            raise BucketMissing(f"bucket {self.bucket!r} does not exist at {self.endpoint_url}: "
                                f"check XXGK_S3_BUCKET (or create the bucket)")
        self._call("creating the bucket", lambda: self._make_bucket())

    def _make_bucket(self) -> None:
        from minio.error import S3Error

        try:
            self.client.make_bucket(self.bucket)
        except S3Error as exc:
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    # -- error translation and retries

    def _call(self, what: str, action: Callable[[], _T], key: str | None = None,
              rewind: Callable[[], bool] | None = None) -> _T:
        """Run ``action``; retry transient failures with backoff; turn every failure into an ObjectStoreError.

        ``rewind`` is called before a retry of an upload and says whether the data can be sent again.
        """
        delays = self.retry.delays()
        while True:
            try:
                return action()
            except ObjectStoreError:
                raise
            except Exception as exc:  # noqa: BLE001 - translated below, never swallowed
                error = self._translate(what, exc, key)
                if not isinstance(error, StoreUnavailable):
                    raise error from exc
                delay = next(delays, None)
                if delay is None or (rewind is not None and not rewind()):
                    raise error from exc
                time.sleep(delay)

    def _translate(self, what: str, exc: Exception, key: str | None) -> ObjectStoreError:
        from minio.error import InvalidResponseError, S3Error, ServerError
        from urllib3.exceptions import HTTPError as Urllib3Error

        doing = f"{what} {key!r}" if key else what
        if isinstance(exc, S3Error):
            if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchVersion"):
                return ObjectNotFound(f"no object {key!r} in {self.location}")
            if exc.code == "NoSuchBucket":
                return BucketMissing(f"bucket {self.bucket!r} does not exist at {self.endpoint_url}: "
                                     f"check XXGK_S3_BUCKET (or create the bucket)")
            if exc.code in _AUTH_CODES:
                return StoreAuthError(f"S3 at {self.endpoint_url} refused the credentials ({exc.code}) while "
                                      f"{doing}: check XXGK_S3_ACCESS_KEY and XXGK_S3_SECRET_KEY")
            if exc.code == "InvalidRange":
                return ObjectRangeError(f"range outside the object while {doing} in {self.location}")
            if exc.code in _TRANSIENT_CODES:
                return StoreUnavailable(f"S3 at {self.endpoint_url} failed ({exc.code}) while {doing}: "
                                        f"check XXGK_S3_ENDPOINT and the server")
            return ObjectStoreError(f"S3 error while {doing} in {self.location}: {exc.code}: {exc.message}")
        if isinstance(exc, ServerError):
            return StoreUnavailable(f"S3 at {self.endpoint_url} answered HTTP {exc.status_code} while {doing}: "
                                    f"check XXGK_S3_ENDPOINT and the server")
        if isinstance(exc, InvalidResponseError):
            return ObjectStoreError(f"S3 at {self.endpoint_url} sent a non-S3 answer while {doing}: "
                                    f"check XXGK_S3_ENDPOINT ({str(exc)[:200]})")
        if isinstance(exc, (Urllib3Error, ConnectionError, TimeoutError)):
            reason = getattr(exc, "reason", None) or exc
            return StoreUnavailable(f"cannot reach S3 at {self.endpoint_url} while {doing} "
                                    f"({type(reason).__name__}): check XXGK_S3_ENDPOINT and that the server runs")
        if isinstance(exc, ValueError):
            return ObjectStoreError(f"S3 rejected the request while {doing}: {exc}")
        return ObjectStoreError(f"unexpected {type(exc).__name__} while {doing} in {self.location}: {exc}")

    # -- writes

    def put_bytes(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        validate_key(key)
        data = bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        meta = {**_validate_metadata(metadata), "sha256": sha256}
        result = self._call("uploading", lambda: self.client.put_object(
            self.bucket, key, io.BytesIO(data), len(data), metadata=meta), key)
        return ObjectInfo(key, len(data), sha256, result.etag, _validate_metadata(metadata))

    def put_file(self, key: str, path: str | Path, metadata: Mapping[str, str] | None = None,
                 part_size: int = DEFAULT_PART_SIZE) -> ObjectInfo:
        validate_key(key)
        source = Path(path)
        try:
            size = source.stat().st_size
            sha256 = _sha256_of_file(source)
        except OSError as exc:
            raise ObjectStoreError(f"cannot upload {source}: {exc.strerror or exc}") from exc
        user_meta = _validate_metadata(metadata)
        meta = {**user_meta, "sha256": sha256}

        def upload():
            with open(source, "rb") as handle:
                return self.client.put_object(self.bucket, key, handle, size, metadata=meta,
                                              part_size=_part_size(part_size))

        result = self._call("uploading", upload, key)
        return ObjectInfo(key, size, sha256, result.etag, user_meta)

    def put_stream(self, key: str, stream: IO[bytes], length: int = -1, metadata: Mapping[str, str] | None = None,
                   part_size: int = DEFAULT_PART_SIZE, sha256: str | None = None) -> ObjectInfo:
        validate_key(key)
        user_meta = _validate_metadata(metadata)
        meta = dict(user_meta)
        if sha256:
            meta["sha256"] = sha256
        hashing = _HashingReader(stream)
        start = _tell(stream)

        def rewind() -> bool:
            if start is None:
                return False  # a pipe cannot be sent twice
            try:
                stream.seek(start)
            except (OSError, ValueError):
                return False
            hashing.reset()
            return True

        result = self._call("uploading", lambda: self.client.put_object(
            self.bucket, key, hashing, length, metadata=meta, part_size=_part_size(part_size)), key, rewind)
        computed = hashing.hexdigest()
        if sha256 and sha256 != computed:
            # S3 has no conditional put: remove what was just written rather than keep a wrong object
            self.delete(key)
            raise ObjectStoreError(f"stream for {key!r} does not match the sha256 given: nothing stored")
        return ObjectInfo(key, hashing.size, sha256, result.etag, user_meta)

    # -- reads

    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        return self._call("reading", lambda: self._read(key), key)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        validate_key(key)
        _validate_span(offset, length)
        if length == 0:
            self.stat(key)
            return b""
        data = self._call("reading", lambda: self._read(key, offset, length), key)
        if len(data) != length:
            raise ObjectRangeError(f"{key!r} in {self.location} ends before [{offset}, {offset + length})")
        return data

    def _read(self, key: str, offset: int = 0, length: int = 0) -> bytes:
        response = self.client.get_object(self.bucket, key, offset=offset, length=length)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def open_stream(self, key: str) -> BinaryIO:
        validate_key(key)
        response = self._call("opening", lambda: self.client.get_object(self.bucket, key), key)
        return _S3ReadStream(response, self, key)  # type: ignore[return-value]

    def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        result = self._call("reading metadata of", lambda: self.client.stat_object(self.bucket, key), key)
        user_meta = {}
        for name, value in (result.metadata or {}).items():
            if name.lower().startswith("x-amz-meta-"):
                user_meta[name[len("x-amz-meta-"):].lower()] = value
        sha256 = user_meta.pop("sha256", None)
        modified = result.last_modified
        return ObjectInfo(key, result.size or 0, sha256, (result.etag or "").strip('"') or None, user_meta, modified)

    def list(self, prefix: str = "") -> Iterator[str]:
        _validate_prefix(prefix)
        names = self._call("listing", lambda: sorted(
            item.object_name for item in self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
            if not item.is_dir))
        return iter(names)

    def delete(self, key: str) -> None:
        validate_key(key)
        self._call("deleting", lambda: self.client.remove_object(self.bucket, key), key)

    def close(self) -> None:
        http = getattr(self.client, "_http", None)
        if http is not None:
            http.clear()


def _part_size(part_size: int) -> int:
    return max(int(part_size), MIN_PART_SIZE)


def _tell(stream: IO[bytes]) -> int | None:
    try:
        if hasattr(stream, "seekable") and not stream.seekable():
            return None
        return stream.tell()
    except (OSError, ValueError, AttributeError):
        return None


class _HashingReader(io.RawIOBase):
    """Passes reads through while computing sha256 and size (minio only needs ``read``)."""

    def __init__(self, stream: IO[bytes]):
        super().__init__()
        self._stream = stream
        self.reset()

    def reset(self) -> None:
        self._digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data:
            self._digest.update(data)
            self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class _S3ReadStream(io.RawIOBase):
    """A GET body as a file object; a broken connection becomes StoreUnavailable, close() frees the connection."""

    def __init__(self, response, store: S3Store, key: str):
        super().__init__()
        self._response = response
        self._store = store
        self._key = key

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._response.read(None if size is None or size < 0 else size)
        except Exception as exc:  # noqa: BLE001 - translated
            raise self._store._translate("reading", exc, self._key) from exc

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
            self._response.release_conn()
        super().close()
