"""Fix: Faust commits offsets of messages no agent processed (a batch that raised, a skipped message).

Upstream: https://github.com/faust-streaming/faust/issues/527 (the same loss with
``noack()`` and an agent that raises; also https://github.com/faust-streaming/faust/issues/315).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import EventT, Message

_processed: weakref.WeakSet[Message] = weakref.WeakSet()


def mark_processed(events: Iterable[EventT[Any]]) -> None:
    """Record that these events are handled for good (stored, dead-lettered or forwarded)."""
    for event in events:
        _processed.add(event.message)


class ProcessedOnlyAcks(Consumer):
    """Let Faust commit an offset of a guarded topic only once an agent has marked it processed.

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

    guarded_topics: frozenset[str] = frozenset()

    def ack(self, message: Any) -> bool:
        if message.topic in self.guarded_topics and (
            message not in _processed or message.generation_id != self.app.consumer_generation_id
        ):
            self._unacked_messages.discard(message)
            return False
        return super().ack(message)
