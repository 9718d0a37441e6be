"""The aiokafka fixes of ``flameback_app.kafka.faust_fixes`` that can be shown on their own, on the real broker.

Each fix also has a deterministic unit test (``tests/flameback_app/kafka/test_faust_fixes.py``); this one runs on Tansu.
"""

from __future__ import annotations

import asyncio

import pytest

from flameback_app.broker.embedded import ensure_topics
from flameback_app.kafka.faust_fixes.clients import Producer
from tests.support.harness import Broker

pytestmark = pytest.mark.e2e


def test_a_producer_keeps_the_metadata_of_topics_it_knew_when_it_learns_a_new_one(broker: Broker) -> None:
    """Without the fix, the first send to a topic created after start narrows the producer's
    metadata to that topic: the earlier topic drops out of the cluster view, and its
    pending batches have no leader (the sender then refreshes metadata in a tight loop).
    """
    bootstrap = broker.url.removeprefix("kafka://")

    async def scenario() -> set[str]:
        await ensure_topics([bootstrap], {"early-topic": 2})
        producer = Producer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait("early-topic", b"known at start")  # learnt from "all topics" metadata
            await ensure_topics([bootstrap], {"late-topic": 2})
            await producer.send_and_wait("late-topic", b"created after start")
            await producer.client.force_metadata_update()
            assert producer.client.cluster.partitions_for_topic("early-topic") == {0, 1}
            await asyncio.wait_for(producer.send_and_wait("early-topic", b"still deliverable"), 10)
            return set(producer.client._topics)
        finally:
            await producer.stop()

    tracked = asyncio.run(scenario())
    assert {"early-topic", "late-topic"} <= tracked
