"""Kafka topics: the public contract (DESIGN §1) and their Faust handles.

``futures-ticks`` (in) and ``real-features-ticks`` (out) are the original system's
names; anything that writes JSON ticks to the first can feed Flameback. Keys and
values are raw bytes end to end (the symbol's UTF-8 bytes as key), so the producer's
default partitioner, Faust's table changelogs and ``table_route`` all agree on which
partition a symbol lives in (DESIGN §8, "table_route and keys").
"""

from __future__ import annotations

import faust

TICKS = "futures-ticks"
REKEYED_TICKS = "flameback-ticks"
FEATURES = "real-features-ticks"
DEAD_LETTERS = "futures-ticks-dlq"
SOURCE_TOPICS = (TICKS, REKEYED_TICKS)  # what the agents consume: offsets commit only once processed


def raw_topic(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    """A topic whose keys and values are left as bytes (we validate ourselves)."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw", partitions=partitions
    )


def all_topic_partitions(partitions: int) -> dict[str, int]:
    """Every topic the app reads or writes, with its partition count (for explicit creation)."""
    return {TICKS: partitions, REKEYED_TICKS: partitions, FEATURES: partitions, DEAD_LETTERS: partitions}
