"""The object store: the same behaviour from the local directory and from a real S3 server (SeaweedFS)."""
from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from storage.config import Config
from storage.objects import (BucketMissing, InvalidKey, LocalStore, ObjectNotFound, ObjectRangeError,
                             ObjectStoreError, RetryPolicy, StoreAuthError, StoreUnavailable, open_store)
from tests.servers import SeaweedS3, free_port

MB = 1024 * 1024


@pytest.fixture
def store(storage_config):
    store = open_store(storage_config)
    yield store
    store.close()


class OneWayStream(io.RawIOBase):
    """A pipe-like stream: no seek, no tell, no length; optionally calls ``hook(bytes_sent)`` before each read."""

    def __init__(self, data: bytes, hook=None):
        super().__init__()
        self._data = memoryview(data)
        self._sent = 0
        self._hook = hook

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        if self._hook:
            self._hook(self._sent)
        size = len(self._data) - self._sent if size is None or size < 0 else size
        chunk = bytes(self._data[self._sent: self._sent + size])
        self._sent += len(chunk)
        return chunk


def test_bytes_round_trip_with_stat_list_and_delete(store):
    data = "政府信息公开工作年度报告".encode("gbk") + bytes(range(256))
    info = store.put_bytes("warcs/run-1/a.warc.gz", data, metadata={"run-id": "run-1"})
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    store.put_bytes("warcs/run-1/b.warc.gz", b"second")
    store.put_bytes("warcs/run-2/c.warc.gz", b"third")
    store.put_bytes("other/readme.txt", b"x")

    assert store.get_bytes("warcs/run-1/a.warc.gz") == data
    stat = store.stat("warcs/run-1/a.warc.gz")
    assert (stat.size, stat.sha256, stat.metadata) == (len(data), hashlib.sha256(data).hexdigest(), {"run-id": "run-1"})
    assert store.exists("warcs/run-1/b.warc.gz")
    assert not store.exists("warcs/run-1/zzz.warc.gz")
    assert list(store.list("warcs/run-1/")) == ["warcs/run-1/a.warc.gz", "warcs/run-1/b.warc.gz"]
    assert list(store.list("warcs/")) == ["warcs/run-1/a.warc.gz", "warcs/run-1/b.warc.gz", "warcs/run-2/c.warc.gz"]

    store.delete("warcs/run-1/b.warc.gz")
    assert not store.exists("warcs/run-1/b.warc.gz")
    assert list(store.list("warcs/run-1/")) == ["warcs/run-1/a.warc.gz"]
    store.delete("warcs/run-1/b.warc.gz")  # deleting twice is not an error


def test_overwrite_replaces_content_and_metadata(store):
    store.put_bytes("k/obj", b"old", metadata={"v": "1"})
    store.put_bytes("k/obj", b"new content", metadata={"v": "2"})
    assert store.get_bytes("k/obj") == b"new content"
    assert store.stat("k/obj").metadata == {"v": "2"}


def test_ranged_reads_return_exactly_the_bytes_asked_for(store):
    data = os.urandom(3000)
    store.put_bytes("r/obj", data)
    assert store.get_range("r/obj", 0, 10) == data[:10]
    assert store.get_range("r/obj", 1234, 500) == data[1234:1734]
    assert store.get_range("r/obj", 2990, 10) == data[2990:]
    assert store.get_range("r/obj", 100, 0) == b""
    with pytest.raises(ObjectRangeError):
        store.get_range("r/obj", 2990, 11)
    with pytest.raises(ObjectRangeError):
        store.get_range("r/obj", 5000, 1)
    with pytest.raises(ObjectRangeError):
        store.get_range("r/obj", -1, 5)


def test_missing_objects_raise_not_found(store):
    for call in (lambda: store.get_bytes("no/such"), lambda: store.stat("no/such"),
                 lambda: store.get_range("no/such", 0, 1), lambda: store.open_stream("no/such")):
        with pytest.raises(ObjectNotFound) as caught:
            call()
        assert "no/such" in str(caught.value)


def test_large_file_goes_up_in_parts_and_reads_back_across_part_boundaries(store, tmp_path):
    data = os.urandom(12 * MB + 12345)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    info = store.put_file("big/segment.warc.gz", source, part_size=5 * MB)
    assert info.size == len(data)
    assert store.stat("big/segment.warc.gz").sha256 == hashlib.sha256(data).hexdigest()
    boundary = 5 * MB
    assert store.get_range("big/segment.warc.gz", boundary - 100, 200) == data[boundary - 100: boundary + 100]
    with store.open_stream("big/segment.warc.gz") as stream:
        received = b"".join(iter(lambda: stream.read(MB), b""))
    assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()


def test_stream_of_unknown_length_is_uploaded_in_parts(store):
    data = os.urandom(11 * MB)
    expected = hashlib.sha256(data).hexdigest()
    info = store.put_stream("stream/obj", OneWayStream(data), part_size=5 * MB, sha256=expected)
    assert info.size == len(data)
    assert store.stat("stream/obj").sha256 == expected
    assert store.get_bytes("stream/obj") == data


def test_stream_with_wrong_checksum_leaves_nothing(store):
    with pytest.raises(ObjectStoreError, match="sha256"):
        store.put_stream("stream/bad", OneWayStream(b"payload"), sha256="0" * 64)
    assert not store.exists("stream/bad")


def test_stream_shorter_than_announced_leaves_nothing(store):
    with pytest.raises(ObjectStoreError):
        store.put_stream("stream/short", io.BytesIO(b"12345"), length=10)
    assert not store.exists("stream/short")


@pytest.mark.parametrize("key", [
    "", "/etc/passwd", "../escape", "a/../../escape", "a/./b", "a//b", "a/b/", "back\\slash", "nul\x00byte",
    ".hidden", "a/.tmp-x", "line\nbreak", "x" * 256, "a/" + "b" * 1100,
])
def test_unsafe_keys_are_refused_by_both_backends(store, key, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InvalidKey):
        store.put_bytes(key, b"x")
    with pytest.raises(InvalidKey):
        store.get_bytes(key)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_bad_metadata_is_refused(store):
    with pytest.raises(ObjectStoreError, match="metadata"):
        store.put_bytes("m/obj", b"x", metadata={"Bad Name": "v"})
    with pytest.raises(ObjectStoreError, match="metadata"):
        store.put_bytes("m/obj", b"x", metadata={"note": "中文"})
    assert not store.exists("m/obj")


# ---------------------------------------------------------------- local directory only

def test_local_store_does_not_follow_a_symlink_out_of_its_root(tmp_path):
    root = tmp_path / "objects"
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalStore(root)
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidKey, match="outside"):
        store.put_bytes("link/x", b"data")
    assert list(outside.iterdir()) == []


def test_local_write_is_all_or_nothing(tmp_path):
    store = LocalStore(tmp_path / "objects")
    store.put_bytes("a/obj", b"original")

    def explode(sent: int) -> None:
        if sent >= 2 * MB:
            raise OSError("disk went away")

    with pytest.raises(ObjectStoreError):
        store.put_stream("a/obj", OneWayStream(os.urandom(4 * MB), hook=explode))
    assert store.get_bytes("a/obj") == b"original"
    leftovers = [p.name for p in (tmp_path / "objects" / "a").iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert list(store.list()) == ["a/obj"]


def test_local_stat_notices_a_changed_file(tmp_path):
    store = LocalStore(tmp_path / "objects")
    store.put_bytes("a/obj", b"one")
    path = tmp_path / "objects" / "a" / "obj"
    path.write_bytes(b"changed behind the store's back")
    assert store.stat("a/obj").sha256 == hashlib.sha256(b"changed behind the store's back").hexdigest()


def test_default_store_is_the_local_directory_under_the_data_dir(tmp_path):
    config = Config.from_env({}, data_dir=tmp_path)
    store = open_store(config)
    store.put_bytes("warcs/r/s.warc.gz", b"x")
    assert (tmp_path / "objects" / "warcs" / "r" / "s.warc.gz").read_bytes() == b"x"


# ---------------------------------------------------------------- S3 only

def _s3_config(tmp_path: Path, env: dict[str, str], **changes) -> Config:
    return replace(Config.from_env(env, data_dir=tmp_path), **changes)


def test_wrong_credentials_name_the_settings_to_check(s3_env, tmp_path):
    config = _s3_config(tmp_path, s3_env, s3_secret_key="not-the-secret")
    with pytest.raises(StoreAuthError) as caught:
        open_store(config)
    assert "XXGK_S3_SECRET_KEY" in str(caught.value) and "XXGK_S3_ACCESS_KEY" in str(caught.value)
    config = _s3_config(tmp_path, s3_env, s3_access_key="nobody")
    with pytest.raises(StoreAuthError):
        open_store(config)


def test_missing_bucket_without_auto_create_names_the_bucket_setting(s3_env, tmp_path):
    config = _s3_config(tmp_path, s3_env)
    with pytest.raises(BucketMissing) as caught:
        open_store(config, create_bucket=False)
    assert "XXGK_S3_BUCKET" in str(caught.value) and config.s3_bucket in str(caught.value)
    store = open_store(config)  # auto-create on: the bucket appears
    store.put_bytes("k", b"v")
    assert open_store(config, create_bucket=False).get_bytes("k") == b"v"


def test_bucket_deleted_under_a_running_store_is_reported(s3_env, tmp_path):
    store = open_store(_s3_config(tmp_path, s3_env))
    store.client.remove_bucket(store.bucket)
    with pytest.raises(BucketMissing, match="XXGK_S3_BUCKET"):
        store.put_bytes("k", b"v")


def test_unreachable_endpoint_fails_fast_with_the_endpoint_setting(tmp_path):
    env = {"XXGK_S3_ENDPOINT": f"127.0.0.1:{free_port()}", "XXGK_S3_ACCESS_KEY": "a", "XXGK_S3_SECRET_KEY": "b"}
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        open_store(Config.from_env(env, data_dir=tmp_path), retry=RetryPolicy(attempts=3, first_delay=0.05))
    assert "XXGK_S3_ENDPOINT" in str(caught.value)
    assert time.monotonic() - started < 10


def test_endpoint_with_a_path_is_refused(tmp_path):
    env = {"XXGK_S3_ENDPOINT": "http://127.0.0.1:9000/bucket", "XXGK_S3_ACCESS_KEY": "a", "XXGK_S3_SECRET_KEY": "b"}
    with pytest.raises(ObjectStoreError, match="XXGK_S3_ENDPOINT"):
        open_store(Config.from_env(env, data_dir=tmp_path))


@pytest.fixture
def private_s3():
    """A server of this test's own, which the test may stop and restart."""
    server = SeaweedS3()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def test_server_stopped_mid_upload_gives_a_clear_error_and_no_partial_object(private_s3, tmp_path):
    config = Config.from_env(private_s3.env("midway"), data_dir=tmp_path)
    store = open_store(config, retry=RetryPolicy(attempts=2, first_delay=0.1))
    part = 5 * MB
    down = threading.Event()

    def stop_server() -> None:
        private_s3.stop()
        down.set()

    stopper = threading.Thread(target=stop_server)

    def hook(sent: int) -> None:
        # two parts are out: stop the server from another thread, and send the rest only once it is down
        if sent >= 2 * part and not stopper.is_alive() and not down.is_set():
            stopper.start()
        if sent >= 2 * part:
            down.wait(30)

    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        store.put_stream("warcs/run/segment.warc.gz", OneWayStream(os.urandom(5 * part), hook=hook), part_size=part)
    assert down.is_set()
    assert "XXGK_S3_ENDPOINT" in str(caught.value)
    assert time.monotonic() - started < 60

    private_s3.restart()
    again = open_store(config, create_bucket=False)
    assert not again.exists("warcs/run/segment.warc.gz")
    assert list(again.list("warcs/")) == []


def test_a_short_outage_is_bridged_by_retries(private_s3, tmp_path):
    config = Config.from_env(private_s3.env("outage"), data_dir=tmp_path)
    store = open_store(config, retry=RetryPolicy(attempts=10, first_delay=0.5, max_delay=4.0))
    private_s3.stop()
    outcome: dict[str, object] = {}

    def upload() -> None:
        try:
            outcome["info"] = store.put_bytes("k/after-outage", b"it waited")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    uploader = threading.Thread(target=upload)
    uploader.start()
    time.sleep(1.0)
    assert uploader.is_alive()  # still retrying while the server is down
    private_s3.restart()  # from the main thread: the server must outlive the helper thread
    uploader.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert store.get_bytes("k/after-outage") == b"it waited"
