"""Which partition a symbol belongs to, computed the way Kafka's default partitioner does.

A tick read from partition p of ``futures-ticks`` can update the symbol's table row in
place only if p is the symbol's own partition: Faust writes a table row to the
changelog partition of the event being processed, and recovery and ``table_route``
look the key up by its hash. Ticks produced with the symbol as key (our feeds, most
producers) already satisfy this; others take one repartition hop.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=65536)
def partition_for(symbol: str, partitions: int) -> int:
    """Kafka's default (murmur2) partition for a symbol key."""
    return int(murmur2(symbol.encode()) & 0x7FFFFFFF) % partitions
