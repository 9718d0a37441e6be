"""Fix: Faust hard-codes ``fetch_max_wait_ms=1500`` for its aiokafka consumer.

Upstream: no report; the issue text is ``docs/upstream/faust-fetch-max-wait.md``.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from flameback_app.kafka.faust_fixes.clients import use_fixed_client


class ConsumerThread(AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, with our fetch wait and the fixed aiokafka client.

    Faust passes 1500 ms to aiokafka unconditionally and Tansu sleeps on empty fetches
    (see ``docs/broker-traps.md``), so every hop idled ~0.4 s. aiokafka reads
    ``_fetch_max_wait_ms`` when the consumer starts, so setting it on the freshly
    created consumer is enough. The consumer's client becomes a
    :class:`~flameback_app.kafka.faust_fixes.clients.FixedClient`, as the producer's does.
    """

    def _create_consumer(self, loop: Any) -> Any:
        consumer = super()._create_consumer(loop)
        use_fixed_client(consumer._client)
        return consumer

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.consumer.fetch_max_wait_ms  # type: ignore[attr-defined]  # our Consumer's
        return consumer
