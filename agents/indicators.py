"""Indicator stage: advance each symbol's state by its ticks, then hand rows on.

Reads: validated ticks, either straight from ``ingest`` (ticks that arrived on their
symbol's own partition) or from the ``flameback-ticks`` repartition topic (the
``indicators`` agent below). Writes: the ``symbol-state`` and ``symbol-scoreboard``
tables, the database (through :mod:`agents.predict`) and ``real-features-ticks``.

Order inside a batch is what makes the pipeline effectively-once (README, "Architecture"):
1. stale/duplicate ticks ((timestamp, seq) not above the symbol's marker) are dropped;
   a second tick without ``seq`` at the marker's timestamp and a new symbol beyond
   ``FLAMEBACK_MAX_SYMBOLS`` go to the dead-letter topic (``tables/symbol_state.py``);
2. rows are predicted and committed to the database (idempotent insert);
3. only then are the table rows (state + dedup marker) replaced.
A crash before 3 redelivers ticks whose rows are recomputed identically and ignored
by the database; a crash after 3 redelivers ticks that are now stale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from faust.types import EventT

from agents.dead_letters import dead_letter
from agents.predict import predict_and_store
from flameback_app.core.partitioning import partition_for
from flameback_app.core.records import FeatureRow, Tick
from flameback_app.core.validation import InvalidTick, TickRules, parse_tick
from flameback_app.faust_app import app, runtime, settings
from flameback_app.kafka.faust_fixes.acks import mark_processed
from flameback_app.kafka.faust_fixes.events import event_context
from flameback_app.kafka.faust_handles import raw_topic
from flameback_app.kafka.lean_faust import publish_records
from tables.definitions import scoreboards, symbol_states
from tables.symbol_census import SymbolCensus
from tables.symbol_state import SymbolState, Verdict

rekeyed_topic = raw_topic(app, settings.topics.rekeyed, settings.partitions)
features_topic = raw_topic(app, settings.features_topic, settings.partitions)
# Re-keyed ticks passed ingest's limits when they arrived; time passing must not refuse them now.
REKEYED_RULES = TickRules(max_future_s=math.inf, max_abs_price=math.inf)
census = SymbolCensus(settings.max_symbols)


@app.agent(rekeyed_topic, name="indicators")
async def indicators(stream: Any) -> None:
    """Ticks that needed a repartition hop (their producer did not key them by symbol)."""
    async for events in stream.take_events(settings.batch_size, settings.batch_within_s):
        batch = []
        for event in events:
            try:
                batch.append((event, parse_tick(event.value, REKEYED_RULES)))
            except InvalidTick:  # ingest validated these; only a foreign producer gets here
                runtime.counters.reject("invalid_rekeyed")
        await process_ticks(batch)
        mark_processed(events)


async def process_ticks(batch: Sequence[tuple[EventT, Tick]]) -> None:
    """Apply a batch of validated ticks: states, predictions, database, tables, features."""
    if not batch:
        return
    async with runtime.lock:
        step = _advance(batch)
        states, last_event, applied = step.states, step.last_event, step.applied
        for event, tick, refusal in step.refused:
            await dead_letter(event, refusal, tick.to_json_bytes())
        if applied:
            scores = {symbol: _load(scoreboards, last_event[symbol], symbol) for symbol in states}
            await predict_and_store(runtime, applied, scores)
            _store(scoreboards, scores, last_event)
        _store(symbol_states, {s: st.to_value() for s, st in states.items()}, last_event)
        if applied:
            await _publish_features(applied)


@dataclass
class BatchStep:
    """What a batch did: the symbols' new states, each one's latest event, the rows, the refusals."""

    states: dict[str, SymbolState] = field(default_factory=dict)
    last_event: dict[str, EventT] = field(default_factory=dict)
    applied: list[tuple[EventT, FeatureRow]] = field(default_factory=list)
    refused: list[tuple[EventT, Tick, InvalidTick]] = field(default_factory=list)


def _advance(batch: Sequence[tuple[EventT, Tick]]) -> BatchStep:
    """Step each symbol's state through its new ticks; stale ones are counted and skipped."""
    step = BatchStep()
    counters = runtime.counters
    for event, tick in batch:
        state = step.states.get(tick.symbol)
        if state is None:
            value = _load(symbol_states, event, tick.symbol)
            if value is None and not census.admit(tick.symbol, _table_symbols):
                refusal = InvalidTick(
                    "too_many_symbols", f"this worker holds {len(census)} symbols (FLAMEBACK_MAX_SYMBOLS)"
                )
                step.refused.append((event, tick, refusal))
                continue
            state = step.states[tick.symbol] = SymbolState.from_value(value, settings.periods_per_year)
        verdict = state.classify(tick)
        if verdict is Verdict.STALE:
            counters.stale += 1
            continue
        if verdict is Verdict.SAME_TIMESTAMP:
            step.refused.append(
                (
                    event,
                    tick,
                    InvalidTick(
                        "same_timestamp",
                        f"a different tick at {tick.timestamp.isoformat()} was applied already and "
                        "neither has a seq to order them",
                    ),
                )
            )
            continue
        step.applied.append((event, state.apply(tick)))
        step.last_event[tick.symbol] = event
        counters.processed += 1
    for symbol in list(step.states):
        if symbol not in step.last_event:  # nothing new for it in this batch: nothing to write
            del step.states[symbol]
    return step


def _table_symbols() -> list[str]:
    """The symbols with state in the table partitions this worker holds."""
    return [key.decode() for key in symbol_states]


def _load(table: Any, event: EventT, symbol: str) -> Any:
    """Read a table row in the context of the event (so the right partition store is used)."""
    with event_context(event):
        return table.get(symbol.encode())


def _store(table: Any, values: dict[str, Any], last_event: dict[str, EventT]) -> None:
    """Write each symbol's row once per batch, bound to that symbol's latest event."""
    for symbol, value in values.items():
        with event_context(last_event[symbol]):
            table[symbol.encode()] = value


async def _publish_features(applied: Sequence[tuple[EventT, FeatureRow]]) -> None:
    """Feature rows on ``real-features-ticks`` (the original system's public output topic), straight to aiokafka.

    Keyed by symbol on the symbol's default-partitioner partition, as a plain producer would put them.
    """
    records = [
        (partition_for(row.symbol, settings.partitions), row.symbol.encode(), row.to_json_bytes())
        for _event, row in applied
    ]
    await publish_records(app, features_topic.get_topic_name(), records)
