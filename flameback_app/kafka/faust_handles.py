"""Faust objects built from our plain configuration: raw-bytes topics and broker credentials.

Part of the Faust layer (it imports Faust, builds nothing on import). The plain
values live in :mod:`flameback_app.core.topics` and :mod:`flameback_app.kafka.kafka_client`, which
the feeds, the dashboard and the tools use without Faust.
"""

from __future__ import annotations

from typing import Any

import faust

from flameback_app.kafka.kafka_client import KafkaClientConfig


def raw_topic(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    """A topic whose keys and values are left as bytes (we validate ourselves)."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw", partitions=partitions
    )


def faust_credentials(config: KafkaClientConfig) -> Any:
    """Faust's ``broker_credentials`` (None for a plaintext, unauthenticated cluster)."""
    if config.sasl_mechanism:
        return faust.SASLCredentials(
            username=config.username,
            mechanism=config.sasl_mechanism,
            password=config.password.get_secret_value() if config.password else None,
            ssl_context=config.ssl_context,
        )
    if config.ssl_context is not None:
        return faust.SSLCredentials(config.ssl_context)
    return None
