"""Fixes of aiokafka's client (the one every producer and consumer holds): known topics, rebootstrap.

aiokafka builds its ``AIOKafkaClient`` inline in ``AIOKafkaProducer.__init__`` and
``AIOKafkaConsumer.__init__``, with no class to override; :func:`use_fixed_client`
turns that one client object into a :class:`FixedClient` (the subclass adds methods
only, no state, so switching the object's class is safe), and :class:`Producer` does
it for every producer it builds.

Upstream: the known-topics fix is written up in
``docs/upstream/aiokafka-add-topic-narrows-metadata.md`` (the nearest report is
https://github.com/aio-libs/aiokafka/issues/440, where narrowing the set was the
wanted side); rebootstrap is https://github.com/aio-libs/aiokafka/issues/456 (Java
clients: KAFKA-8206, ``metadata.recovery.strategy=rebootstrap``).
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest

log = logging.getLogger(__name__)


class KeepsKnownTopics(AIOKafkaClient):
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

    def add_topic(self, topic: str) -> Any:
        if not self._topics:
            self._topics.update(self.cluster.topics())
        return super().add_topic(topic)


class Rebootstraps(AIOKafkaClient):
    """When no broker a client knows answers, ask the bootstrap addresses again.

    aiokafka uses its bootstrap list once, at start; from then on it asks only the
    brokers the cluster metadata names. Tansu brokers that share S3 storage each name
    only themselves (all as node 111), so a client that bootstrapped through broker A
    knew nothing else, and after A was SIGKILLed it retried A forever ("Unable to
    update metadata from [111]") while broker B served the same topics: measured with
    a producer and a consumer bootstrapped with both. Here a failed metadata refresh
    goes through the bootstrap list (Java clients call this
    ``metadata.recovery.strategy=rebootstrap``); node 111 then maps to B and every
    connection, the group coordinator's included, is re-made there. On a Kafka cluster
    whose metadata names every broker the first attempt succeeds and this never runs.
    """

    async def _metadata_update(self, cluster_metadata: Any, topics: Any) -> bool:
        if await super()._metadata_update(cluster_metadata, topics):
            return True
        return await self._metadata_from_bootstrap(cluster_metadata, topics)

    async def _metadata_from_bootstrap(self, cluster_metadata: Any, topics: Any) -> bool:
        request = MetadataRequest(list(topics) if topics else None)
        for host, port, _ in self.hosts:
            metadata = await self._ask_bootstrap_host(host, port, request)
            if metadata is not None and metadata.brokers:
                cluster_metadata.update_metadata(metadata)
                log.warning("no known Kafka broker answered; continuing through bootstrap address %s:%s", host, port)
                return True
        return False

    async def _ask_bootstrap_host(self, host: str, port: int, request: Any) -> Any:
        """The metadata answer of one bootstrap address, or None if it cannot be reached."""
        try:
            conn = await create_conn(
                host,
                port,
                client_id=self._client_id,
                request_timeout_ms=self._request_timeout_ms,
                ssl_context=self._ssl_context,
                security_protocol=self._security_protocol,
                sasl_mechanism=self._sasl_mechanism,
                sasl_plain_username=self._sasl_plain_username,
                sasl_plain_password=self._sasl_plain_password,
                sasl_kerberos_service_name=self._sasl_kerberos_service_name,
                sasl_kerberos_domain_name=self._sasl_kerberos_domain_name,
                sasl_oauth_token_provider=self._sasl_oauth_token_provider,
            )
        except (OSError, KafkaError, TimeoutError):
            return None
        try:
            return await conn.send(request)
        except (KafkaError, TimeoutError):
            return None
        finally:
            conn.close()


class FixedClient(KeepsKnownTopics, Rebootstraps):
    """aiokafka's client with both fixes of this module."""


def use_fixed_client(client: AIOKafkaClient) -> AIOKafkaClient:
    """Make this one client object a :class:`FixedClient` (aiokafka offers no way to choose the class)."""
    if type(client) is AIOKafkaClient:
        client.__class__ = FixedClient
    return client


class Producer(AIOKafkaProducer):
    """aiokafka's producer with a :class:`FixedClient` (the Faust transport's producer type; feeds use it too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_fixed_client(self.client)
