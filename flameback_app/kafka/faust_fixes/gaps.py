"""Fix: Faust counts offsets its consumer jumped over as processed, and commits past them.

Upstream: https://github.com/faust-streaming/faust/issues/596 (gaps in acked offsets
made by a race in recovery) and https://github.com/faust-streaming/faust/issues/606
(wrong commit with gaps); the cause found here is written up in
``docs/upstream/faust-gap-acks.md``.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP

log = logging.getLogger(__name__)


class NoGapAcks(Consumer):
    """Never count offsets the consumer jumped over as processed, in the guarded topics.

    When a fetched offset is more than one past the last one read, Faust records the
    offsets between as acknowledged (meant for compacted topics and transaction
    markers). In a trace of a restart the jump was Faust's own doing — its read
    position was reset to the committed offset while a fetched batch was still being
    delivered — and the "gap" held ~100 ticks per partition that were thrown away
    unprocessed, then committed. Ticks are never compacted; a producer using Kafka
    transactions leaves real markers, and then the committed offset waits at the marker
    (the ticks after it are still processed; a restart re-reads them as duplicates).
    """

    guarded_topics: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gaps_warned: set[TP] = set()

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        if tp.topic not in self.guarded_topics:
            return await super()._add_gap(tp, offset_from, offset_to)
        level = logging.DEBUG if tp in self._gaps_warned else logging.WARNING
        self._gaps_warned.add(tp)
        log.log(
            level,
            "consumer jumped over offsets %d..%d of %s; they are not committed until processed",
            offset_from,
            offset_to - 1,
            tp,
        )
