"""Faust settings and patches: the embedded broker's workarounds and Faust's offset-safety fixes.

DESIGN §8 lists what was measured on Tansu; :func:`embedded_broker_conf` holds those
settings, so a real Kafka cluster (``FLAMEBACK_BROKER`` pointing elsewhere) keeps
Faust's defaults. The fetch wait bounds how long an empty fetch may idle, on any
broker. The rest fixes ways Faust 0.15 commits offsets of messages nobody processed
(found here with traces of real restarts, on any broker): each is a
``install_*`` function with the reason in its docstring, and all of them keep one
invariant for the agents' source topics — an offset is committed only after an
agent marked its message processed, and messages reach the agents in offset order.
One more fixes aiokafka's producer metadata (:func:`install_metadata_keeps_known_topics`).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest
from faust.streams import _current_event
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP, EventT

log = logging.getLogger(__name__)


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
_processed: weakref.WeakSet = weakref.WeakSet()


def mark_processed(events: Iterable[EventT]) -> None:
    """Record that these events are handled for good (stored, dead-lettered or forwarded)."""
    for event in events:
        _processed.add(event.message)


def install_processed_only_acks(topics: Collection[str]) -> None:
    """Let Faust commit an offset of ``topics`` only once an agent has marked it processed.

    Faust acknowledges more than it processed: ``take_events`` acks its whole batch in
    a ``finally`` — also when the agent body raised or was cancelled half way, so a
    crashed batch counted as done; and the pure-Python stream skips (and acks)
    messages fetched before a rebalance. Here an acknowledgement of a message that
    no agent marked with :func:`mark_processed`, or that was fetched in an earlier
    consumer generation, is refused: the offset is not committed, the message is
    released (so shutdown and rebalances do not wait for it), and Kafka delivers it
    again after the next rebalance or restart, where the state's timestamp dedups
    whatever had been applied.
    """
    guarded = frozenset(topics)

    def ack(self: Consumer, message: Any) -> bool:
        if message.topic in guarded and (
            message not in _processed or message.generation_id != self.app.consumer_generation_id
        ):
            self._unacked_messages.discard(message)
            return False
        return _original_ack(self, message)

    Consumer.ack = ack  # type: ignore[method-assign]


_original_add_gap = Consumer._add_gap


def install_no_gap_acks(topics: Collection[str]) -> None:
    """Never count offsets the consumer jumped over as processed, in ``topics``.

    When a fetched offset is more than one past the last one read, Faust records the
    offsets between as acknowledged (meant for compacted topics and transaction
    markers). In a trace of a restart the jump was Faust's own doing — its read
    position was reset to the committed offset while a fetched batch was still being
    delivered — and the "gap" held ~100 ticks per partition that were thrown away
    unprocessed, then committed. Ticks are never compacted; a producer using Kafka
    transactions leaves real markers, and then the committed offset waits at the marker
    (the ticks after it are still processed; a restart re-reads them as duplicates).
    """
    guarded = frozenset(topics)
    warned: set[TP] = set()

    async def add_gap(self: Consumer, tp: TP, offset_from: int, offset_to: int) -> None:
        if tp.topic not in guarded:
            return await _original_add_gap(self, tp, offset_from, offset_to)
        level = logging.DEBUG if tp in warned else logging.WARNING
        warned.add(tp)
        log.log(level, "consumer jumped over offsets %d..%d of %s; they are not committed until processed",
                offset_from, offset_to - 1, tp)  # fmt: skip

    Consumer._add_gap = add_gap  # type: ignore[method-assign]


_original_getmany = Consumer.getmany
_original_seek = Consumer.seek
_original_perform_seek = Consumer.perform_seek


def install_contiguous_reads(topics: Collection[str]) -> None:
    """Deliver records of ``topics`` only where they continue the read position; else seek back.

    A fetch can outlive a rebalance: aiokafka parks a pending ``fetched_records``
    call until the new assignment is in, then hands over records fetched from the
    *old* position, after Faust has already reset the read position to the committed
    offset (a trace: 1,750 ticks of one partition, 6,307..8,057, jumped over this
    way after the other worker of the group was killed; they sat unprocessed until
    the next restart). Here a record that does not follow the last one read (or,
    right after a seek, is not the offset sought) is dropped with the rest of its
    partition's batch and the partition is sought back to where reading stands, so
    the broker sends the missing range again in order. A jump that repeats at the
    same place after such a seek is real (a transaction marker) and goes through.
    """
    guarded = frozenset(topics)
    sought: set[TP] = set()  # read offset set by a seek: it is the next offset, not the last one read
    accepted_jumps: set[tuple[TP, int, int]] = set()

    async def seek(self: Consumer, partition: TP, offset: int) -> None:
        await _original_seek(self, partition, offset)
        sought.add(partition)

    async def perform_seek(self: Consumer) -> None:
        await _original_perform_seek(self)
        sought.update(self._read_offset)

    async def getmany(self: Consumer, timeout: float) -> Any:
        dropped: set[TP] = set()
        async for tp, message in _original_getmany(self, timeout):
            if tp in dropped:
                continue
            if tp.topic in guarded:
                expected = _next_offset(self._read_offset.get(tp), tp in sought)
                if expected is not None and message.offset > expected:
                    jump = (tp, expected, message.offset)
                    if jump not in accepted_jumps:
                        accepted_jumps.add(jump)
                        dropped.add(tp)
                        log.warning("fetched %s from offset %d while reading at %d (a fetch from before a "
                                    "rebalance); reading it again from %d", tp, message.offset, expected,
                                    expected)  # fmt: skip
                        await self.seek(tp, expected)
                        continue
                if message.offset >= (expected or 0):
                    sought.discard(tp)
            yield tp, message

    Consumer.seek = seek  # type: ignore[method-assign]
    Consumer.perform_seek = perform_seek  # type: ignore[method-assign]
    Consumer.getmany = getmany  # type: ignore[method-assign]


def _next_offset(read_offset: int | None, sought: bool) -> int | None:
    if read_offset is None:
        return None
    return read_offset if sought else read_offset + 1


_original_recovery_completed = Recovery.on_recovery_completed


def install_seek_before_resume() -> None:
    """After a rebalance, resume the source partitions only once Faust has seeked and resumed flow.

    Faust's ``on_recovery_completed`` resumes the stream partitions, *then* seeks them
    to the committed offsets, then resumes flow control — and resuming flow control
    clears every stream's queue. Records fetched in that window (a trace: 1,300–2,500
    per partition after a restart with a deleted state directory) were partly
    delivered, partly cleared away unprocessed, and the rest arrived after the read
    position had been reset, which Faust took as a gap (see :func:`install_no_gap_acks`).
    Deferring the resume until the method has finished means the first record fetched
    is the committed offset. A fetch still pending from before the rebalance can
    deliver records between Faust's seek and that clearing (it does not look at
    paused partitions), so the partitions are sought to the committed offsets once
    more after the queues were cleared: whatever was cleared is read again.
    """

    async def on_recovery_completed(self: Recovery, generation_id: int = 0) -> None:
        consumer = self.app.consumer
        deferred: set[TP] = set()
        consumer.resume_partitions = deferred.update  # type: ignore[method-assign]
        try:
            await _original_recovery_completed(self, generation_id)
        finally:
            del consumer.resume_partitions
        if deferred and self.app.consumer_generation_id == generation_id:
            await consumer.perform_seek()
            consumer.resume_partitions(deferred)

    Recovery.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]


_original_add_topic = AIOKafkaClient.add_topic


def install_metadata_keeps_known_topics() -> None:
    """When a client starts tracking named topics, keep tracking the ones it already knew.

    An aiokafka client starts with an empty topic set, which means "fetch metadata for
    every topic", and a producer only adds a topic to the set when it does not know
    its partitions yet. So the first send to a topic created after the producer
    started narrowed the set to that one topic: from then on metadata requests named
    only it, the changelog topics fell out of the cluster view, and their pending
    batches had no leader. The producer's sender then refreshed metadata in a tight
    loop (4.6 s of CPU in 8 s, caught with py-spy while the database refused writes)
    and the changelog records waited until the next send to those topics re-added them.
    """

    def add_topic(self: AIOKafkaClient, topic: str) -> Any:
        if not self._topics:
            self._topics.update(self.cluster.topics())
        return _original_add_topic(self, topic)

    AIOKafkaClient.add_topic = add_topic  # type: ignore[method-assign]


_original_metadata_update = AIOKafkaClient._metadata_update


def install_rebootstrap() -> None:
    """When no broker a client knows answers, ask the bootstrap addresses again.

    aiokafka uses its bootstrap list once, at start; from then on it asks only the
    brokers the cluster metadata names. Tansu brokers that share S3 storage each name
    only themselves (all as node 111), so a client that bootstrapped through broker A
    knew nothing else, and after A was SIGKILLed it retried A forever ("Unable to
    update metadata from [111]") while broker B served the same topics: measured with
    a producer and a consumer bootstrapped with both. With this patch a failed metadata
    refresh goes through the bootstrap list (Java clients call this
    ``metadata.recovery.strategy=rebootstrap``); node 111 then maps to B and every
    connection, the group coordinator's included, is re-made there. On a Kafka cluster
    whose metadata names every broker the first attempt succeeds and this never runs.
    """

    async def metadata_update(self: AIOKafkaClient, cluster_metadata: Any, topics: Any) -> bool:
        if await _original_metadata_update(self, cluster_metadata, topics):
            return True
        return await _metadata_from_bootstrap(self, cluster_metadata, topics)

    AIOKafkaClient._metadata_update = metadata_update  # type: ignore[method-assign]


async def _metadata_from_bootstrap(client: AIOKafkaClient, cluster_metadata: Any, topics: Any) -> bool:
    request = MetadataRequest(list(topics) if topics else None)
    for host, port, _ in client.hosts:
        try:
            conn = await create_conn(
                host, port, client_id=client._client_id, request_timeout_ms=client._request_timeout_ms,
                ssl_context=client._ssl_context, security_protocol=client._security_protocol,
                sasl_mechanism=client._sasl_mechanism, sasl_plain_username=client._sasl_plain_username,
                sasl_plain_password=client._sasl_plain_password,
                sasl_kerberos_service_name=client._sasl_kerberos_service_name,
                sasl_kerberos_domain_name=client._sasl_kerberos_domain_name,
                sasl_oauth_token_provider=client._sasl_oauth_token_provider,
            )  # fmt: skip
        except (OSError, KafkaError, TimeoutError):
            continue
        try:
            metadata = await conn.send(request)
        except (KafkaError, TimeoutError):
            continue
        finally:
            conn.close()
        if metadata.brokers:
            cluster_metadata.update_metadata(metadata)
            log.warning("no known Kafka broker answered; continuing through bootstrap address %s:%s", host, port)
            return True
    return False


def install_all(*, source_topics: Collection[str], fetch_max_wait_ms: int) -> None:
    """Every patch above, for an app whose agents consume ``source_topics``."""
    install_fetch_wait(fetch_max_wait_ms)
    install_metadata_keeps_known_topics()
    install_rebootstrap()
    install_processed_only_acks(source_topics)
    install_no_gap_acks(source_topics)
    install_contiguous_reads(source_topics)
    install_seek_before_resume()
