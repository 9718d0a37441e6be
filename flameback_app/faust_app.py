"""The Faust application object (``faust -A flameback_app``), configured from settings.

This module is an entry point: it reads the ``FLAMEBACK_*`` settings once. Agents,
tables, commands and web views register themselves on :data:`app` when
``flameback_app`` is imported.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

import faust

from flameback_app.broker.embedded import BrokerAccessError, BrokerUnavailable, wait_for_broker
from flameback_app.kafka.event_loop import use_event_loop
from flameback_app.kafka.faust_fixes.broker_settings import embedded_broker_conf
from flameback_app.kafka.faust_fixes.recovery import TableManager
from flameback_app.kafka.faust_fixes.transport import FixedTransportApp, FixesConfig
from flameback_app.kafka.faust_fixes.versions import require_tested_versions
from flameback_app.kafka.faust_handles import faust_credentials
from flameback_app.kafka.kafka_client import KafkaClientConfig, kafka_client_config
from flameback_app.kafka.lean_faust import QuietMonitor
from flameback_app.settings import Settings, load_settings
from flameback_app.storage.db_startup import prepare_database
from flameback_app.worker.alert_service import AlertService
from flameback_app.worker.model_service import ModelService
from flameback_app.worker.runtime import Runtime

log = logging.getLogger(__name__)


class FlamebackApp(FixedTransportApp):
    """The Faust app with our Faust fixes (:mod:`flameback_app.kafka.faust_fixes`), plus what Faust lacks: wait for
    the broker (a bounded time), and stop if it refuses us."""

    flameback_settings: Settings
    flameback_kafka: KafkaClientConfig

    async def on_first_start(self) -> None:
        settings: Settings = self.flameback_settings
        kafka = self.flameback_kafka
        try:
            await wait_for_broker(list(kafka.bootstrap), settings.broker_wait_s, security=kafka.security_kwargs())
        except (BrokerUnavailable, BrokerAccessError) as exc:
            # Bad credentials or an untrusted certificate do not pass by waiting (Faust's own
            # clients would retry them forever); nothing has started yet: exit 1 with the reason.
            exit_now(f"Error: {exc}", code=1)
        log.info(
            "event loop: %s (FLAMEBACK_EVENT_LOOP=%s)", type(asyncio.get_running_loop()).__module__, settings.event_loop
        )
        await super().on_first_start()


class FlamebackWorker(faust.Worker):
    """Faust's worker, after a database schema check, with a deadline on stopping.

    Faust builds this class for the ``worker`` command only. Before anything else
    (Faust's banner, logging) it brings the database schema up to date, or refuses in
    one line and exits 1 (:func:`flameback_app.storage.db_startup.prepare_database`).

    Faust's shutdown commits offsets and flushes the producer, and with the broker
    gone those wait for request timeouts (a worker whose broker had gone ignored
    SIGTERM for more than 7 s). Past ``FLAMEBACK_SHUTDOWN_TIMEOUT_S`` after the first
    SIGINT/SIGTERM the process exits anyway. That is safe by design: it is the same
    as a SIGKILL, which the pipeline survives exactly (offsets are committed only for
    ticks whose rows are stored; whatever was not acknowledged is delivered again).
    """

    _deadline: threading.Timer | None = None

    def __init__(self, app: faust.App, *services: Any, **kwargs: Any) -> None:
        prepare_database(app.flameback_settings)
        super().__init__(app, *services, **kwargs)

    def _schedule_shutdown(self, signal: Any) -> None:
        super()._schedule_shutdown(signal)
        if self._deadline is None:
            seconds = self.app.flameback_settings.shutdown_timeout_s
            self._deadline = threading.Timer(seconds, _stopped_too_slowly, args=(seconds,))
            self._deadline.daemon = True
            self._deadline.start()


def _stopped_too_slowly(seconds: float) -> None:
    exit_now(
        f"still stopping {seconds:g}s after the stop signal (broker unreachable?): exiting without the final "
        "offset commit; nothing is lost, unacknowledged ticks are delivered again at the next start",
        code=0,
        level=logging.WARNING,
    )


def exit_now(line: str, *, code: int, level: int = logging.ERROR) -> None:
    """Log one line and end the process at once, skipping Faust's shutdown (nothing in it is needed for safety)."""
    log.log(level, line)
    logging.shutdown()
    os._exit(code)


def create_app(settings: Settings) -> faust.App:
    """Build the Faust app for ``settings`` (the only place Faust is configured).

    First of all, refuse (one line, exit 1) Faust, mode or aiokafka versions the fixes were not tested on.
    """
    require_tested_versions()
    use_event_loop(settings.event_loop)  # before the faust command creates the worker's loop
    extra = embedded_broker_conf() if settings.broker_is_embedded else {}
    kafka = kafka_client_config(settings)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    app = FlamebackApp(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=faust_credentials(kafka),
        store="rocksdb://",
        datadir=str(settings.state_dir),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        # table_route forwards a request to the owner's canonical URL; Faust's default uses the
        # machine's hostname, which a loopback-bound web server does not answer on.
        canonical_url=f"http://{settings.web_host}:{settings.web_port}",
        producer_linger=0.005,
        # A rejected tick goes to the DLQ unchanged: allow what a producer may have sent (up to 1 MiB+).
        producer_max_request_size=4 * 1024 * 1024,
        consumer_max_fetch_size=8
        * 1024
        * 1024,  # batch the per-row feature and changelog sends (was one request per send)
        autodiscover=[
            "flameback_app.cli.commands",
            "flameback_app.web.views",
            "flameback_app.tasks.upkeep",
            "flameback_app.tasks.schedules",
            "tables",
            "agents",
        ],
        origin="flameback_app",
        Worker=FlamebackWorker,
        # Our Faust fixes: the transport's consumer/producer classes, and the table manager's recovery.
        faust_fixes=FixesConfig(source_topics=settings.topics.sources, fetch_max_wait_ms=settings.fetch_max_wait_ms),
        TableManager=TableManager,
        Monitor=QuietMonitor,  # nothing reads Faust's per-message statistics (flameback_app.kafka.lean_faust)
        **extra,
    )
    app.flameback_settings = settings
    app.flameback_kafka = kafka
    return app


settings: Settings = load_settings()
app: faust.App = create_app(settings)
runtime: Runtime = Runtime(settings)
model_service: ModelService = ModelService(runtime)
alert_service: AlertService = AlertService(settings)
