"""A cheaper per-message path through Faust, for a stream of one tick per Kafka message.

Every Kafka message costs Faust a fixed amount of plumbing, whatever it carries. A
py-spy profile of a worker fed one tick per message (``python -m bench.pipeline
--profile``) showed three costs that buy nothing here, each removed by a class of ours
rather than a patch:

- :class:`QuietMonitor`: Faust's default sensor records per-message statistics
  (events in/out per stream, per topic, send latencies) that nothing in Flameback reads
  (``/counters/``, ``/health/`` and ``/metrics`` keep their own figures).
- :class:`LeanConsumer`: Faust hands every fetched message to the topic conductor
  through ``Service.wait_first``, which creates four asyncio tasks (the delivery, the
  flow-suspension wait, the stop wait and the crash wait) and cancels three of them —
  per message. That race exists so a delivery that *blocks* (flow control suspended for
  a rebalance, a full stream queue, a full producer buffer) can be abandoned when the
  consumer suspends its flow. When none of those can block the delivery, the message
  is delivered by awaiting it directly; otherwise Faust's own racing path is used.
  Nothing is dropped or skipped: the same messages reach the same queues in the same order.
- :func:`publish_records`: the feature rows go straight to aiokafka's producer, instead
  of one Faust ``Topic.send`` per row (a ``FutureMessage``, sensors and a callback each).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, cast

from faust.sensors import Monitor
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TransportT

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


class LeanConsumer(AIOKafkaConsumer):
    """Faust's aiokafka consumer, delivering each message without a task race when delivery cannot block."""

    def delivery_cannot_block(self, topic: str) -> bool:
        """True when the conductor's delivery of a message of ``topic`` will not wait for anything.

        The conductor waits only for: flow control (suspended during a rebalance), the
        producer buffer (above its high-water mark), its callback-table lock (held while
        the subscription changes) and a full stream queue. Checked synchronously right
        before the delivery starts, with no ``await`` between, so none can change.
        """
        app = self.app
        if self.suspend_flow.is_set() or not app.flow_control.is_active():
            return False
        buffer = app.producer.buffer
        if buffer.size > buffer.max_messages:
            return False
        conductor = cast(Any, app.topics)
        if conductor._tp_to_callback_lock.locked():
            return False
        return not any(channel.queue.full() for channel in conductor._topic_name_index.get(topic, ()))

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - exercised end to end
        """Faust 0.15.3's fetch loop, with the direct delivery above (the rest is unchanged)."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        cannot_block = self.delivery_cannot_block
        yield_every, num_since_yield = 100, 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if self.should_stop:
                    continue
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await asyncio.sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is not None and offset < r_offset:
                        continue  # Faust drops what precedes the read position (already read)
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if cannot_block(tp.topic):
                        await callback(message)
                    else:
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                    set_read_offset(tp, offset)
                unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception:
            self.log.exception("Drain messages raised")
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


def lean_transport(transport: TransportT) -> TransportT:
    """Make ``transport`` build :class:`LeanConsumer` (an aiokafka transport; others are left alone)."""
    if issubclass(transport.Consumer, AIOKafkaConsumer):
        transport.Consumer = LeanConsumer  # type: ignore[misc]
    return transport


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
    producer = app.producer._ensure_producer()
    for partition, key, value in records:
        delivery = await producer.send(topic, value=value, key=key, partition=partition)
        delivery.add_done_callback(_log_failure)


def _log_failure(delivery: asyncio.Future) -> None:
    if not delivery.cancelled() and delivery.exception() is not None:
        log.warning("a feature row was not delivered: %r", delivery.exception())
