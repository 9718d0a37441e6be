"""Faust settings and one patch that make Faust usable on the embedded Tansu broker.

DESIGN §8 lists what was measured; this module is where each workaround lives so
that a real Kafka cluster (``FLAMEBACK_BROKER`` pointing elsewhere) keeps Faust's
defaults. Nothing here changes behaviour on real Kafka except the fetch wait, which
only bounds how long an empty fetch may idle.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import EventT


def embedded_broker_conf() -> dict[str, Any]:
    """Faust settings for Tansu (each one answers a measured trap in DESIGN §8)."""
    return {
        # Tansu holds JoinGroup replies for half the session timeout: 60 s → 30 s first join.
        "broker_session_timeout": 4,
        "broker_heartbeat_interval": 1,
        # Tansu reports the newest batch's base offset + 1 as the end offset, which trips
        # Faust's recovery consistency check during rebalances.
        "recovery_consistency_check": False,
    }


_original_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer


def install_fetch_wait(fetch_max_wait_ms: int) -> None:
    """Replace Faust's hard-coded 1500 ms ``fetch_max_wait_ms`` for aiokafka consumers.

    Faust passes 1500 ms to aiokafka unconditionally and Tansu sleeps on empty fetches,
    so every hop idled ~0.4 s. aiokafka reads ``_fetch_max_wait_ms`` when the consumer
    starts, so setting it on the freshly created consumer is enough.
    """

    def create_worker_consumer(self: AIOKafkaConsumerThread, transport: Any) -> Any:
        consumer = _original_create_worker_consumer(self, transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]


@contextmanager
def event_context(event: EventT) -> Iterator[None]:
    """Make ``event`` Faust's current event while processing a ``take_events`` batch.

    Faust routes a table write to the changelog partition (and RocksDB partition
    database) of the *current* event. In a batch the current event is the last one
    buffered, which may come from another partition; writing symbol X's row there
    would put it where recovery and ``table_route`` never look. Binding each row's
    own event keeps every row in its symbol's partition.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


_original_ack = Consumer.ack


def install_stale_generation_ack_guard() -> None:
    """Never acknowledge a message fetched in an earlier consumer generation.

    After a rebalance Faust skips messages that were fetched before it (their
    ``generation_id`` is old) — and acknowledges them, "so the lag does not grow".
    Those offsets then count as done and the commit moves past events that were
    never processed: a surviving worker lost the tail of a partition it kept.
    Refusing the acknowledgement leaves them uncommitted, so they are fetched again
    in the new generation (and the state's timestamp dedups any that were processed).
    """

    def ack(self: Consumer, message: Any) -> bool:
        generation = getattr(message, "generation_id", None)
        if generation is not None and generation != self.app.consumer_generation_id:
            return False
        return _original_ack(self, message)

    Consumer.ack = ack  # type: ignore[method-assign]
