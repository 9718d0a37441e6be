"""The Faust application object (``faust -A flameback_app``), configured from settings.

This module is an entry point: it reads the ``FLAMEBACK_*`` settings once. Agents,
tables, commands and web views register themselves on :data:`app` when
``flameback_app`` is imported.
"""

from __future__ import annotations

import faust

from flameback_app.broker import wait_for_broker
from flameback_app.faust_tuning import embedded_broker_conf, install_all
from flameback_app.runtime import Runtime
from flameback_app.settings import Settings, load_settings
from flameback_app.topics import SOURCE_TOPICS


class FlamebackApp(faust.App):
    """The Faust app, plus one behaviour Faust lacks: wait for the broker instead of exiting."""

    async def on_first_start(self) -> None:
        await wait_for_broker(self.flameback_settings.bootstrap_servers)  # type: ignore[attr-defined]
        await super().on_first_start()


def create_app(settings: Settings) -> faust.App:
    """Build the Faust app for ``settings`` (the only place Faust is configured)."""
    extra = embedded_broker_conf() if settings.broker_is_embedded else {}
    install_all(source_topics=SOURCE_TOPICS, fetch_max_wait_ms=settings.fetch_max_wait_ms)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    app = FlamebackApp(
        settings.app_id,
        broker=settings.broker,
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
        consumer_max_fetch_size=8 * 1024 * 1024,  # batch the per-row feature and changelog sends (was one request per send)
        autodiscover=["flameback_app.commands", "flameback_app.views", "flameback_app.upkeep", "tables", "agents"],
        origin="flameback_app",
        **extra,
    )
    app.flameback_settings = settings  # type: ignore[attr-defined]
    return app


settings: Settings = load_settings()
app: faust.App = create_app(settings)
runtime: Runtime = Runtime(settings)
