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
- :class:`OverlappedBatchStream`: the agents' batches keep filling while the previous
  batch is processed (Faust's ``take_events`` stops delivery for that time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any, cast

import faust
from faust.sensors import Monitor
from faust.types import ChannelT, EventT

from flameback_app.kafka.faust_fixes.introspection import started_producer

log = logging.getLogger(__name__)
PREFETCH_BYTES = 256 * 1024  # what a batch buffers while the previous one is processed (_BatchBuffer)


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


class OverlappedBatchStream(faust.Stream):
    """Faust's stream with :meth:`take_batches`: ``take_events`` that keeps buffering while a batch is processed.

    Faust's ``take_events`` stops its buffer while the agent works on a batch and
    starts a fresh ``within`` wait only afterwards, so each batch costs the agent's
    work *plus* up to ``within`` of filling, one after the other, and the event loop's
    per-message delivery sits idle while the agent waits on its executor (models,
    database). Here delivery goes on during the batch, into the next one.
    """

    def take_batches(self, max_: int, within: float) -> AsyncIterator[list[EventT[Any]]]:
        """Yield up to ``max_`` events at a time: a batch closes when full or ``within`` s after its first event.

        Events that arrived while the previous batch was processed have waited
        already, so they are yielded at once: under load batches grow toward
        ``max_`` with no added wait, and at a trickle a tick waits at most ``within``.
        Order is kept (one buffer, filled by the stream's single drainer). Each
        batch is acknowledged after the loop body has finished with it, as with
        ``take_events``; events still buffered are not, so a crash redelivers them.
        """
        batches = self._batches(max_, within)
        self._active_agens.add(batches)  # Stream.on_stop closes it, as it does take_events' generator
        return batches

    async def _batches(self, max_: int, within: float) -> AsyncIterator[list[EventT[Any]]]:
        buffer = _BatchBuffer(max_, PREFETCH_BYTES)

        async def add_to_buffer(value: Any) -> Any:
            try:
                while not buffer.accepts:  # back-pressure: the drainer waits, and the channel's queue fills
                    if self.should_stop:
                        return value  # not buffered, not acknowledged: delivered again after the restart
                    await self.wait(buffer.has_room)
                buffer.add(self.current_event, self.loop.time())
            except Exception as exc:  # as take_events: a failure here crashes the stream, never stalls it
                self.log.exception("Error adding to take buffer")
                await self.crash(exc)
            return value

        acks_were_enabled = self.enable_acks
        self.enable_acks = False  # acknowledged below, after the loop body has handled the batch
        self.add_processor(add_to_buffer)
        self._enable_passive(cast(ChannelT, aiter(self.channel)))
        try:
            while not self.should_stop:
                await self.wait_for_stopped(buffer.not_empty)
                wait = buffer.opened_at + within - self.loop.time()
                if wait > 0 and not buffer.full:
                    await self.wait_for_stopped(buffer.filled, timeout=wait)
                batch = buffer.take()
                try:
                    yield batch
                finally:
                    for event in batch:
                        await self.ack(event)
                    buffer.done(self.loop.time())
        finally:
            self.enable_acks = acks_were_enabled
            self._processors.remove(add_to_buffer)


class _BatchBuffer:
    """The events waiting for the next batch, with the signals :meth:`OverlappedBatchStream.take_batches` waits on.

    While a batch is being processed the buffer takes events only up to ``prefetch_bytes``
    of payload: enough to cover the per-message work of a one-tick-per-message stream
    (500 such messages are ~60 kB), while packed messages (~6 kB each) are not decoded
    in parallel with a batch whose executor work then waits for the interpreter lock
    (measured: 6 % fewer packed ticks/s with unbounded prefetch).
    """

    def __init__(self, max_: int, prefetch_bytes: int) -> None:
        self.max = max_
        self.prefetch_bytes = prefetch_bytes
        self.events: list[EventT[Any]] = []
        self.bytes = 0
        self.busy = False
        self.opened_at = 0.0
        self.not_empty = asyncio.Event()
        self.filled = asyncio.Event()
        self.has_room = asyncio.Event()
        self.has_room.set()

    @property
    def full(self) -> bool:
        """The next batch is complete."""
        return len(self.events) >= self.max

    @property
    def accepts(self) -> bool:
        """Another event may be buffered now."""
        return not self.full and not (self.busy and self.bytes >= self.prefetch_bytes)

    def add(self, event: EventT[Any] | None, now: float) -> None:
        if event is None:
            raise RuntimeError("the stream has no current event for a buffered value")
        if not self.events:
            self.opened_at = now
            self.not_empty.set()
        self.events.append(event)
        self.bytes += _payload_size(event)
        if self.full:
            self.filled.set()
        if not self.accepts:
            self.has_room.clear()

    def take(self) -> list[EventT[Any]]:
        """The buffered events, as the batch now processed; the buffer fills again meanwhile (up to the prefetch)."""
        batch, self.events, self.bytes, self.busy = self.events, [], 0, True
        self.not_empty.clear()
        self.filled.clear()
        self._update_room()
        return batch

    def done(self, now: float) -> None:
        """The batch has been processed: buffer freely again.

        If the prefetch limit stopped buffering, more was waiting: the next batch
        gets its ``within`` from now to fill, as with ``take_events``.
        """
        if self.busy and self.bytes >= self.prefetch_bytes:
            self.opened_at = now
        self.busy = False
        self._update_room()

    def _update_room(self) -> None:
        if self.accepts:
            self.has_room.set()
        else:
            self.has_room.clear()


def _payload_size(event: EventT[Any]) -> int:
    """The message's payload in bytes (0 for a value that was never bytes, as in Faust's agent test context)."""
    value = event.message.value
    return len(value) if isinstance(value, bytes | bytearray | str) else 0
