"""Kafka topics: the public contract (names only; the Faust handles are in :mod:`flameback_app.kafka.faust_handles`).

``futures-ticks`` (in) and ``real-features-ticks`` (out) are the original system's
names; anything that writes JSON ticks to the first can feed Flameback. Keys and
values are raw bytes end to end (the symbol's UTF-8 bytes as key), so the producer's
default partitioner, Faust's table changelogs and ``table_route`` all agree on which
partition a symbol lives in (docs/broker-traps.md, "table_route and keys").
"""

from __future__ import annotations

from dataclasses import dataclass

TICKS = "futures-ticks"
REKEYED_TICKS = "flameback-ticks"
FEATURES = "real-features-ticks"
DEAD_LETTERS = "futures-ticks-dlq"


@dataclass(frozen=True)
class TopicNames:
    """The topic names in use: the defaults above, or the settings ``FLAMEBACK_*_TOPIC``.

    The repartition topic is internal (only the worker reads and writes it) and keeps its name.
    """

    ticks: str = TICKS
    dead_letters: str = DEAD_LETTERS
    features: str = FEATURES
    rekeyed: str = REKEYED_TICKS

    @property
    def sources(self) -> tuple[str, str]:
        """What the agents consume: their offsets commit only once processed."""
        return self.ticks, self.rekeyed

    def with_partitions(self, partitions: int) -> dict[str, int]:
        """Every topic the app reads or writes, with its partition count (for explicit creation)."""
        return {name: partitions for name in (self.ticks, self.rekeyed, self.features, self.dead_letters)}
