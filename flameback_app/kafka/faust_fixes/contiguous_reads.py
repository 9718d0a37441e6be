"""Fix: a fetch that outlives a rebalance delivers records from the old position, skipping a range.

Upstream: no matching report; the issue text is ``docs/upstream/faust-stale-fetch-after-rebalance.md``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP

log = logging.getLogger(__name__)


class ContiguousReads(Consumer):
    """Deliver records of the guarded topics only where they continue the read position; else seek back.

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

    guarded_topics: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Partitions whose read offset was set by a seek: it is the next offset, not the last one read.
        self._sought: set[TP] = set()
        self._accepted_jumps: set[tuple[TP, int, int]] = set()

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self._sought.add(partition)

    async def perform_seek(self) -> None:
        await super().perform_seek()
        self._sought.update(self._read_offset)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        dropped: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            if tp in dropped:
                continue
            if tp.topic in self.guarded_topics:
                expected = _next_offset(self._read_offset.get(tp), tp in self._sought)
                jumped = expected is not None and message.offset > expected
                if jumped and await self._seek_back(tp, expected or 0, message.offset):
                    dropped.add(tp)
                    continue
                if message.offset >= (expected or 0):
                    self._sought.discard(tp)
            yield tp, message

    async def _seek_back(self, tp: TP, expected: int, fetched: int) -> bool:
        """Seek ``tp`` back to ``expected`` the first time this jump is seen; False for a repeated (real) jump."""
        jump = (tp, expected, fetched)
        if jump in self._accepted_jumps:
            return False
        self._accepted_jumps.add(jump)
        log.warning(
            "fetched %s from offset %d while reading at %d (a fetch from before a rebalance); reading it again from %d",
            tp,
            fetched,
            expected,
            expected,
        )
        await self.seek(tp, expected)
        return True


def _next_offset(read_offset: int | None, sought: bool) -> int | None:
    if read_offset is None:
        return None
    return read_offset if sought else read_offset + 1
