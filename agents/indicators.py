"""Indicator stage: advance each symbol's state by its ticks, then hand rows on.

Reads: validated ticks, either straight from ``ingest`` (ticks that arrived on their
symbol's own partition) or from the ``flameback-ticks`` repartition topic (the
``indicators`` agent below). Writes: the ``symbol-state`` and ``symbol-scoreboard``
tables, the database (through :mod:`agents.predict`) and ``real-features-ticks``.

Order inside a batch is what makes the pipeline effectively-once (DESIGN §1):
1. stale/duplicate ticks (timestamp not newer than the symbol's last) are dropped;
2. rows are predicted and committed to the database (idempotent insert);
3. only then are the table rows (state + dedup marker) replaced.
A crash before 3 redelivers ticks whose rows are recomputed identically and ignored
by the database; a crash after 3 redelivers ticks that are now stale.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from faust.types import EventT

from agents.predict import predict_and_store
from flameback_app.app import app, runtime, settings
from flameback_app.faust_tuning import event_context, mark_processed
from flameback_app.records import Tick
from flameback_app.topics import FEATURES, REKEYED_TICKS, raw_topic
from flameback_app.validation import InvalidTick, parse_tick
from tables.definitions import scoreboards, symbol_states
from tables.symbol_state import SymbolState

rekeyed_topic = raw_topic(app, REKEYED_TICKS, settings.partitions)
features_topic = raw_topic(app, FEATURES, settings.partitions)


@app.agent(rekeyed_topic, name="indicators")
async def indicators(stream: Any) -> None:
    """Ticks that needed a repartition hop (their producer did not key them by symbol)."""
    async for events in stream.take_events(settings.batch_size, settings.batch_within_s):
        batch = []
        for event in events:
            try:
                batch.append((event, parse_tick(event.value)))
            except InvalidTick:  # ingest validated these; only a foreign producer gets here
                runtime.counters.reject("invalid_rekeyed")
        await process_ticks(batch)
        mark_processed(events)


async def process_ticks(batch: Sequence[tuple[EventT, Tick]]) -> None:
    """Apply a batch of validated ticks: states, predictions, database, tables, features."""
    if not batch:
        return
    async with runtime.lock:
        states, last_event, applied = _advance(batch)
        if applied:
            scores = {symbol: _load(scoreboards, last_event[symbol], symbol) for symbol in states}
            await predict_and_store(runtime, applied, scores)
            _store(scoreboards, scores, last_event)
        _store(symbol_states, {s: st.to_value() for s, st in states.items()}, last_event)
        if applied:
            await _publish_features(applied)


def _advance(batch: Sequence[tuple[EventT, Tick]]) -> tuple[dict, dict, list[tuple[EventT, dict]]]:
    """Step each symbol's state through its new ticks; stale ones are counted and skipped."""
    states: dict[str, SymbolState] = {}
    last_event: dict[str, EventT] = {}
    applied: list[tuple[EventT, dict[str, Any]]] = []
    counters = runtime.counters
    for event, tick in batch:
        state = states.get(tick.symbol)
        if state is None:
            stored = _load(symbol_states, event, tick.symbol)
            state = states[tick.symbol] = SymbolState.from_value(stored, settings.periods_per_year)
        if not state.is_new(tick):
            counters.stale += 1
            continue
        applied.append((event, state.apply(tick)))
        last_event[tick.symbol] = event
        counters.processed += 1
    for symbol in list(states):
        if symbol not in last_event:  # nothing new for it in this batch: nothing to write
            del states[symbol]
    return states, last_event, applied


def _load(table: Any, event: EventT, symbol: str) -> Any:
    """Read a table row in the context of the event (so the right partition store is used)."""
    with event_context(event):
        return table.get(symbol.encode())


def _store(table: Any, values: dict[str, Any], last_event: dict[str, EventT]) -> None:
    """Write each symbol's row once per batch, bound to that symbol's latest event."""
    for symbol, value in values.items():
        with event_context(last_event[symbol]):
            table[symbol.encode()] = value


async def _publish_features(applied: Sequence[tuple[EventT, dict[str, Any]]]) -> None:
    """Feature rows on ``real-features-ticks`` (the original system's public output topic)."""
    for _event, row in applied:
        await features_topic.send(key=row["symbol"].encode(), value=_json_row(row))


def _json_row(row: dict[str, Any]) -> bytes:
    return json.dumps(
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}, separators=(",", ":")
    ).encode()
