"""A cheaper per-message path through Faust, for a stream of one tick per Kafka message.

Every Kafka message costs Faust a fixed amount of plumbing, whatever it carries. A
py-spy profile of a worker fed one tick per message (``python -m bench.pipeline
--profile``) showed costs that buy nothing here, each removed by our own code
rather than a patch:

- :class:`QuietMonitor`: Faust's default sensor records per-message statistics
  (events in/out per stream, per topic, send latencies) that nothing in Flameback reads
  (``/counters/``, ``/health/`` and ``/metrics`` keep their own figures).
- :func:`publish_records`: the feature rows go straight to aiokafka's producer, instead
  of one Faust ``Topic.send`` per row (a ``FutureMessage``, sensors and a callback each).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from faust.sensors import Monitor

from flameback_app.kafka.faust_fixes.introspection import started_producer

log = logging.getLogger(__name__)


class QuietMonitor(Monitor):
    """Faust's monitor without its per-message and per-send bookkeeping (nothing reads it here).

    Rebalance, commit and assignment hooks are Monitor's own: they run a few times per
    minute, not per message.
    """

    def on_message_in(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_stream_event_in(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_stream_event_out(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_message_out(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_table_get(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_table_set(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_send_initiated(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_send_completed(self, *args: Any, **kwargs: Any) -> None:
        return None


async def publish_records(app: Any, topic: str, records: Iterable[tuple[int, bytes, bytes]]) -> None:
    """Send ``(partition, key, value)`` records to ``topic`` straight through the app's aiokafka producer.

    Each record is appended to aiokafka's open batch for its partition (no Faust
    ``FutureMessage``, sensors or callback per row). Not ``send_batch``: that waits
    until the partition's previous batch has been drained to the broker, and while
    a partition has no known leader (after a restart, until metadata is refreshed)
    that wait held the agent — a worker stopped processing with its ticks fetched.
    ``send`` appends without waiting unless the open batch is full, as Faust's own
    path does. It is the producer Faust flushes before it commits offsets, so these
    rows are on the broker before the offsets of the ticks that made them are committed.
    """
    producer = started_producer(app.producer)
    for partition, key, value in records:
        delivery = await producer.send(topic, value=value, key=key, partition=partition)
        delivery.add_done_callback(_log_failure)


def _log_failure(delivery: asyncio.Future) -> None:
    if not delivery.cancelled() and delivery.exception() is not None:
        log.warning("a feature row was not delivered: %r", delivery.exception())
