"""The ``broker`` command: run Tansu in the foreground, or detached with a pid file.

Reads settings (broker URL, storage, Tansu binary, data dir, client security). Writes
``<data_dir>/run/broker.pid`` and ``<data_dir>/run/broker.log`` when detached. Nothing
it prints names a secret: storage URLs are redacted and the S3 keys reach Tansu through
its environment only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import click

from flameback_app.broker.embedded import (
    BrokerError,
    BrokerStorage,
    broker_storage,
    check_port_free,
    check_storage_reachable,
    kafka_ready,
    resolve_tansu_bin,
    start_tansu,
    stop_process,
)
from flameback_app.kafka.kafka_client import kafka_client_config
from flameback_app.settings import Settings, hostport


def _pid_file(settings: Settings) -> Path:
    return settings.data_dir / "run" / "broker.pid"


async def run_broker(settings: Settings, *, detach: bool, stop_detached: bool, ready_timeout: float) -> None:
    """Start (or stop) the embedded broker as the options say.

    SIGINT/SIGTERM are taken over before Tansu starts, so a stop request at any
    moment — during start-up too — stops Tansu before this command exits (and the
    kernel stops it if this process is killed outright: see ``start_tansu``).
    """
    if stop_detached:
        _stop_detached(_pid_file(settings))
        return
    urls = settings.broker.split(";")
    if len(urls) != 1:
        raise BrokerError(
            "the broker command runs one broker on one address; FLAMEBACK_BROKER lists several "
            "(start each broker with its own FLAMEBACK_BROKER, and give the workers the list)."
        )
    host, port = hostport(urls[0])
    check_port_free(host, port)
    storage = broker_storage(settings)
    check_storage_reachable(storage)
    binary = resolve_tansu_bin(settings.tansu_bin)
    run_dir = settings.data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = run_dir / "broker.log"
    stop = _stop_on_signals()
    proc = start_tansu(binary, host, port, storage=storage, log_file=log_file if detach else None)
    security = kafka_client_config(settings).security_kwargs()
    try:
        if not await _ready_unless_stopped(proc, f"{host}:{port}", ready_timeout, stop, security):
            if stop.is_set():
                return
            raise BrokerError(
                f"Tansu did not answer Kafka requests on {host}:{port} within {ready_timeout:.0f}s "
                f"(storage {storage.describe()}{'; see ' + str(log_file) if detach else ''})"
            )
        click.echo(f"broker ready at kafka://{host}:{port} (Tansu, {_keeps(storage)})", err=True)
        if detach:
            _pid_file(settings).write_text(str(proc.pid))
            proc = None  # left running on purpose
            return
        await _wait_for_stop(proc, stop)
    finally:
        if proc is not None and proc.poll() is None:
            code = stop_process(proc)
            click.echo(f"broker stopped (exit {code})", err=True)


def _keeps(storage: BrokerStorage) -> str:
    if not storage.durable:
        return "memory-only: topics vanish when it stops"
    return (
        f"storage {storage.describe()}, cluster id {storage.cluster_id}: topics, offsets and groups survive a restart"
    )


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (instead of their default: dying on the spot)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _ready_unless_stopped(
    proc: subprocess.Popen, address: str, timeout_s: float, stop: asyncio.Event, security: dict
) -> bool:
    """True once Tansu answers; False if it did not in time, exited, or a stop was asked for first."""
    ready = asyncio.ensure_future(kafka_ready([address], timeout_s, security=security))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not ready.done():
            ready.cancel()
    return ready.done() and not ready.cancelled() and ready.result() and proc.poll() is None


async def _wait_for_stop(proc: subprocess.Popen, stop: asyncio.Event) -> None:
    """Block until SIGINT/SIGTERM or until Tansu exits by itself (an error)."""
    while not stop.is_set() and proc.poll() is None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        except TimeoutError:
            pass
    if proc.poll() is not None and not stop.is_set():
        raise BrokerError(f"Tansu exited unexpectedly with code {proc.returncode}")


def _stop_detached(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        raise BrokerError(f"no detached broker to stop ({pid_file} missing)") from None
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)
    click.echo(f"broker (pid {pid}) stopped", err=True)
