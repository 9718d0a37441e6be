"""Ingest stage: raw bytes from ``futures-ticks`` → validated ticks, or the dead-letter topic.

Reads: ``futures-ticks`` (``FLAMEBACK_TICKS_TOPIC``; any producer, any key, any bytes; one
tick or a packed array of ticks per message). Writes: rejects to ``futures-ticks-dlq`` (original
payload as the value, the reason in headers), ticks that arrived on their symbol's
own partition straight to the indicator stage (no extra Kafka hop), and all others
to ``flameback-ticks`` keyed by symbol, one tick per message. Nothing a producer
sends can stop this agent.
"""

from __future__ import annotations

from typing import Any

from faust.types import EventT

from agents.dead_letters import dead_letter
from agents.indicators import process_ticks, rekeyed_topic
from flameback_app.core.partitioning import partition_for
from flameback_app.core.records import Tick
from flameback_app.core.validation import parse_message
from flameback_app.faust_app import app, runtime, settings
from flameback_app.kafka.faust_fixes.acks import mark_processed
from flameback_app.kafka.faust_handles import raw_topic

ticks_topic = raw_topic(app, settings.ticks_topic, settings.partitions)
TICK_RULES = settings.tick_rules


@app.agent(ticks_topic, name="ingest")
async def ingest(stream: Any) -> None:
    """Validate each raw tick; route it to the indicator stage, the repartition topic or the DLQ."""
    async for events in stream.take_events(settings.batch_size, settings.batch_within_s):
        local = []
        for event in events:
            parsed = parse_message(event.value, TICK_RULES)
            if parsed.rejection is not None:
                await dead_letter(event, parsed.rejection)
            for tick in parsed.ticks:
                if is_on_home_partition(event, tick):
                    local.append((event, tick))
                else:
                    await rekeyed_topic.send(
                        key=tick.symbol.encode(), value=tick.to_json_bytes(), timestamp=event.message.timestamp
                    )
                    runtime.counters.forwarded += 1
        await process_ticks(local)
        mark_processed(events)


def is_on_home_partition(event: EventT, tick: Tick) -> bool:
    """Keyed by its symbol and on that key's partition: the symbol's table row lives here.

    The key must be the symbol too, not just the partition: an unkeyed producer's ticks
    land on random partitions, and letting the lucky ones skip the hop would reorder the
    symbol's ticks (later ones would overtake and the earlier become stale).
    """
    return event.key == tick.symbol.encode() and event.message.partition == partition_for(
        tick.symbol, settings.partitions
    )
