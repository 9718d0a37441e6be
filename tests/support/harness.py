"""Real processes for end-to-end tests: a Tansu broker on a free loopback port (memory
or S3 storage on a local moto server), Faust workers, feeds, and a real database (a
SQLite file, or the URL of a PostgreSQL database) — each test run isolated by its own
app id, ports, state directory and database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

from flameback_app.broker.embedded import (
    MEMORY_STORAGE,
    BrokerStorage,
    kafka_ready,
    resolve_tansu_bin,
    start_tansu,
    stop_process,
)
from flameback_app.kafka.kafka_client import kafka_client_config
from flameback_app.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Settings().market_data_dir
REAL_FILE = Settings().market_file
FAUST = [sys.executable, "-m", "faust", "-A", "flameback_app"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> object:
    """Poll until ``predicate`` returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class S3Server:
    """A real S3-compatible server (moto) on a free loopback port, with one bucket, for Tansu's ``s3://`` storage."""

    ACCESS_KEY, SECRET_KEY = "flameback-test-key", "flameback-test-secret-4f9a"

    def __init__(self, log_file: Path, bucket: str = "tansu") -> None:
        self.port, self.bucket, self.log_file = free_port(), bucket, log_file
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        moto = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log_file.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: _listening(self.port), 30, f"moto_server on port {self.port} (log: {self.log_file})")
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.ACCESS_KEY,
            aws_secret_access_key=self.SECRET_KEY,
        )
        s3.create_bucket(Bucket=self.bucket)
        return self

    def env(self) -> dict[str, str]:
        """The ``FLAMEBACK_*`` settings that point the ``broker`` command at this storage."""
        return {
            "FLAMEBACK_BROKER_STORAGE": f"s3://{self.bucket}/",
            "FLAMEBACK_S3_ENDPOINT": self.endpoint,
            "FLAMEBACK_S3_ACCESS_KEY_ID": self.ACCESS_KEY,
            "FLAMEBACK_S3_SECRET_ACCESS_KEY": self.SECRET_KEY,
        }

    def storage(self) -> BrokerStorage:
        from flameback_app.broker.embedded import broker_storage

        return broker_storage(settings_from_env(self.env()))

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def settings_from_env(env: dict[str, str]) -> Settings:
    """Settings as a process started with ``env`` would read them."""
    prefix = "FLAMEBACK_"
    return Settings(**{k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)})


class Broker:
    """A Tansu broker process on a free loopback port (memory storage unless given another)."""

    def __init__(
        self,
        log_file: Path,
        storage: BrokerStorage = MEMORY_STORAGE,
        *,
        authentication: bool = False,
        advertise: str | None = None,
    ) -> None:
        self.port = free_port()
        self.log_file = log_file
        self.storage, self.authentication, self.advertise = storage, authentication, advertise
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.proc = start_tansu(
            resolve_tansu_bin(os.environ.get("FLAMEBACK_TANSU_BIN")),
            "127.0.0.1",
            self.port,
            log_file=self.log_file,
            storage=self.storage,
            authentication=self.authentication,
            advertise=self.advertise,
        )
        if self.authentication:  # it answers nobody (see tests/e2e/test_credentials.py): wait for the port
            wait_for(lambda: _listening(self.port), 30, f"Tansu on port {self.port}")
        elif not asyncio.run(kafka_ready([f"127.0.0.1:{self.port}"], 30)):
            raise AssertionError(f"Tansu did not start; see {self.log_file}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash or a lost machine would."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


@dataclass
class Stack:
    """Environment and processes of one isolated Flameback deployment."""

    root: Path
    broker: Broker
    app_id: str
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    web_ports: dict[str, int] = field(default_factory=dict)
    db_file: Path | None = None  # default: <root>/flameback.db
    bootstrap_url: str | None = None  # default: the broker's URL; e.g. "kafka://a;kafka://b" for two brokers
    db_url: str | None = None  # any SQLAlchemy URL (PostgreSQL); default: the SQLite file db_path
    code_dir: Path = REPO  # the source tree the worker and commands run (bench: an older commit's tree)

    @property
    def db_path(self) -> Path:
        return self.db_file or self.root / "flameback.db"

    def kafka_kwargs(self) -> dict:
        """aiokafka keyword arguments, built from this deployment's settings like every project client."""
        return kafka_client_config(settings_from_env(self.env())).kwargs()

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.db_path}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLAMEBACK_")}
        env.update(
            {
                "FLAMEBACK_BROKER": self.bootstrap_url or self.broker.url,
                "FLAMEBACK_DB_URL": self.database_url,
                "FLAMEBACK_MODELS_DIR": str(self.root / "models"),
                "FLAMEBACK_APP_ID": self.app_id,
                "FLAMEBACK_PARTITIONS": str(self.partitions),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.code_dir != REPO:  # its packages, not the installed checkout's, must be imported
            env["PYTHONPATH"] = str(self.code_dir)
        env.update(self.extra_env)
        env.update(extra)
        return env

    def state_dir(self, name: str) -> Path:
        return self.root / f"data-{name}"

    def start_worker(self, name: str = "w1", **extra_env: str) -> subprocess.Popen:
        port = self.web_ports.setdefault(name, free_port())
        env = self.env(FLAMEBACK_WEB_PORT=str(port), FLAMEBACK_DATA_DIR=str(self.state_dir(name)), **extra_env)
        log = open(self.root / f"worker-{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [*FAUST, "worker", "-l", "info"],
            cwd=self.code_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers[name] = proc
        return proc

    def kill_worker(self, name: str = "w1", sig: int = signal.SIGKILL) -> None:
        """Signal the worker's process group; a worker that ignores SIGTERM for 20 s is SIGKILLed."""
        proc = self.workers.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.workers):
            self.kill_worker(name, signal.SIGTERM)

    def health(self, name: str = "w1") -> dict | None:
        """``/health/``'s JSON, whether it says 200 (ok) or 503 (degraded, with ``reasons``); None if no answer."""
        status, body = self.get_status_json(name, "/health/")
        return body if status in (200, 503) else None

    def get_json(self, name: str, path: str) -> dict | None:
        """The JSON of a 200 answer, else None."""
        status, body = self.get_status_json(name, path)
        return body if status == 200 else None

    def get_status_json(self, name: str, path: str) -> tuple[int | None, dict | None]:
        url = f"http://127.0.0.1:{self.web_ports[name]}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.load(exc)
            except ValueError:
                return exc.code, None
        except OSError:
            return None, None

    def wait_assigned(self, name: str = "w1", timeout: float = 60) -> dict:
        """Wait until the worker's web server answers and it holds partitions."""
        return wait_for(
            lambda: (h := self.health(name)) and h["assigned"] and h,
            timeout,
            f"worker {name} to be assigned partitions (log: {self.root}/worker-{name}.log)",
        )

    def run_command(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*FAUST, *args],
            cwd=self.code_dir,
            env=self.env(FLAMEBACK_DATA_DIR=str(self.root / "cli")),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def row_count(self) -> int:
        if self.db_url is None and not self.db_path.exists():
            return 0
        engine = create_engine(self.database_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM predictions")).scalar_one()
        except (OperationalError, ProgrammingError):  # table not created yet (SQLite / PostgreSQL)
            return 0
        finally:
            engine.dispose()

    def wait_rows(self, expected: int, timeout: float) -> int:
        """Wait until the database holds ``expected`` rows (and fail clearly if it holds more)."""
        deadline = time.monotonic() + timeout
        count = 0
        while time.monotonic() < deadline:
            count = self.row_count()
            assert count <= expected, f"{count} rows > {expected} expected: duplicates?"
            if count == expected:
                return count
            time.sleep(0.5)
        raise AssertionError(f"{count} of {expected} rows after {timeout:.0f}s (logs in {self.root})")
