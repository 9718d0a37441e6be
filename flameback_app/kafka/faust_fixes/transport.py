"""The wiring: a Faust transport whose consumer, consumer thread and producer carry our fixes.

Faust builds every consumer and producer of an app through the app's transport
(``App._new_transport``, normally looked up by URL scheme in Faust's driver
registry). :class:`FixedTransportApp` builds :class:`Transport` instead, so only the
apps that inherit it get the fixes; the registry and Faust's classes stay as they are.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from flameback_app.kafka.faust_fixes.acks import ProcessedOnlyAcks
from flameback_app.kafka.faust_fixes.clients import Producer as FixedAIOKafkaProducer
from flameback_app.kafka.faust_fixes.contiguous_reads import ContiguousReads
from flameback_app.kafka.faust_fixes.fetch_wait import ConsumerThread
from flameback_app.kafka.faust_fixes.gaps import NoGapAcks
from flameback_app.kafka.faust_fixes.recovery import DeferredResumes


@dataclass(frozen=True)
class FixesConfig:
    """What the fixes need to know about the app: the topics its agents consume, the fetch wait."""

    source_topics: Collection[str]
    fetch_max_wait_ms: int


class Consumer(ProcessedOnlyAcks, NoGapAcks, ContiguousReads, DeferredResumes, faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with every consumer-side fix; the agents' source topics are the guarded ones."""

    def __init__(self, transport: Transport, *args: Any, **kwargs: Any) -> None:
        self.guarded_topics = frozenset(transport.fixes.source_topics)
        self.fetch_max_wait_ms = transport.fixes.fetch_max_wait_ms
        super().__init__(transport, *args, **kwargs)

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Producer(faust_aiokafka.Producer):
    """Faust's aiokafka producer, building aiokafka producers with the fixed client."""

    @property
    def _producer_type(self) -> type[FixedAIOKafkaProducer]:
        return FixedAIOKafkaProducer


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with our :class:`Consumer` and :class:`Producer`."""

    Consumer = Consumer
    Producer = Producer

    def __init__(self, url: Any, app: Any, loop: Any = None, *, fixes: FixesConfig) -> None:
        self.fixes = fixes
        super().__init__(url, app, loop=loop)


class FixedTransportApp(faust.App):
    """A Faust app whose transports are :class:`Transport` (pass ``faust_fixes=FixesConfig(...)``)."""

    def __init__(self, *args: Any, faust_fixes: FixesConfig, **kwargs: Any) -> None:
        self.faust_fixes = faust_fixes
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self, fixes=self.faust_fixes)

    def _new_producer_transport(self) -> Transport:
        return Transport(self.conf.broker_producer, self, fixes=self.faust_fixes)
