"""Agents under Faust's ``test_context()``: in-memory tables, a real SQLite file, no broker.

Topic sends (dead letters, repartition, features) have no broker to go to here, so they
are recorded instead; the end-to-end tests cover them against the real broker.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from faust.types.tuples import ConsumerMessage
from sqlalchemy import select

from agents import dead_letters
from agents import indicators as indicator_stage
from agents import ingest as ingest_stage
from flameback_app import app
from flameback_app.core.partitioning import partition_for
from flameback_app.core.ta import IndicatorState, step
from flameback_app.core.topics import TICKS
from flameback_app.faust_app import runtime
from flameback_app.storage import db, schema
from flameback_app.worker.counters import PipelineCounters
from models.live import SignalEngine
from tables.definitions import symbol_states


class Recorder:
    """Stands in for ``Topic.send`` (no broker under test_context) and keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def __call__(self, **kwargs: object) -> None:
        self.sent.append(kwargs)


class BatchRecorder(Recorder):
    """Stands in for ``lean_faust.publish_records`` (the features' batched sends): keeps each record."""

    async def __call__(self, app: object, topic: str, records: list[tuple[int, bytes, bytes]]) -> None:  # type: ignore[override] - publish_records' signature, not Recorder's
        self.sent += [{"topic": topic, "partition": p, "key": k, "value": v} for p, k, v in records]


@pytest.fixture(scope="module", autouse=True)
def in_memory_tables() -> None:
    app.conf.store = "memory://"
    app.finalize()


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One loop for the module: Faust binds its services to the first loop that runs them."""
    running = asyncio.new_event_loop()
    asyncio.set_event_loop(running)
    yield running
    running.close()


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Recorder]]:
    """A fresh database file, counters, rule-only signal engine and recorded topic sends."""
    monkeypatch.setattr(runtime, "_db", db.make_engine(f"sqlite:///{tmp_path / 'agents.db'}"))
    schema.upgrade(runtime.db)
    monkeypatch.setattr(runtime, "counters", PipelineCounters())
    monkeypatch.setattr(runtime, "signals", SignalEngine(None))
    sends = {"dlq": Recorder(), "rekeyed": Recorder(), "features": BatchRecorder()}
    monkeypatch.setattr(dead_letters.dead_letter_topic, "send", sends["dlq"])
    monkeypatch.setattr(indicator_stage.rekeyed_topic, "send", sends["rekeyed"])
    monkeypatch.setattr(indicator_stage, "publish_records", sends["features"])
    yield sends  # tables persist across tests (in memory): each test uses its own symbols


def tick(symbol: str, price: float, day: int) -> bytes:
    return json.dumps({"symbol": symbol, "price": price, "timestamp": f"2024-01-{day:02d}T00:00:00"}).encode()


async def feed(agent: object, messages: list[tuple[bytes, int]], key: bytes | None) -> None:
    async with agent.test_context() as ctx:  # type: ignore[attr-defined] - agents are typed as object here
        for value, partition in messages:
            await ctx.put(value, key=key, partition=partition, wait=False)
        await until(
            lambda: (
                runtime.counters.processed
                + runtime.counters.stale
                + runtime.counters.rejected_total
                + runtime.counters.forwarded
                >= len(messages)
            )
        )


async def until(predicate: object, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator] - a callable, typed as object
        assert loop.time() < deadline, "agent did not process the messages in time"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # let the batch finish its database and table writes


def rows(symbol: str) -> list:
    p = db.predictions
    with runtime.db.connect() as conn:
        return conn.execute(select(p).where(p.c.symbol == symbol).order_by(p.c.timestamp)).all()


def test_ingest_computes_stores_and_skips_stale(pipeline: dict[str, Recorder], loop) -> None:
    symbol = "ES1 Index"
    home = partition_for(symbol, app.flameback_settings.partitions)
    prices = [100.0 + i for i in range(1, 26)]
    messages = [(tick(symbol, p, i + 1), home) for i, p in enumerate(prices)]
    messages.append((tick(symbol, 999.0, 3), home))  # an old timestamp: stale, not applied
    loop.run_until_complete(feed(ingest_stage.ingest, messages, key=symbol.encode()))

    stored = rows(symbol)
    assert len(stored) == len(prices)
    expected_state = IndicatorState()
    for row, price in zip(stored, prices, strict=True):
        expected_state, features = step(expected_state, price)
        assert row.current_price == price
        assert row.sma_20 == features["sma_20"] and row.lag_5 == features["lag_5"]
        assert row.XGBoost == "TRAINING"
    assert runtime.counters.stale == 1
    value = symbol_states[symbol.encode()]
    assert value["last_ts"] == "2024-01-25T00:00:00" and value["ticks"] == len(prices)
    assert len(pipeline["features"].sent) == len(prices)
    assert {(s["topic"], s["partition"], s["key"]) for s in pipeline["features"].sent} == {
        (indicator_stage.features_topic.get_topic_name(), home, symbol.encode())
    }


def test_bad_payloads_are_dead_lettered_and_processing_continues(pipeline: dict[str, Recorder], loop) -> None:
    symbol = "CL1 Comdty"
    home = partition_for(symbol, app.flameback_settings.partitions)
    bad = [b"{oops", b'{"symbol": "CL1 Comdty", "price": "x", "timestamp": "2024-01-02"}', b"\x00\xff"]
    messages = [(tick(symbol, 50.0, 1), home), *[(b, home) for b in bad], (tick(symbol, 51.0, 2), home)]
    loop.run_until_complete(feed(ingest_stage.ingest, messages, key=symbol.encode()))

    assert [s["value"] for s in pipeline["dlq"].sent] == bad
    assert [dict(s["headers"])["reason"] for s in pipeline["dlq"].sent] == [b"invalid_json", b"bad_price", b"not_utf8"]
    assert runtime.counters.rejected_total == 3
    assert len(rows(symbol)) == 2


def trade(symbol: str, price: float, stamp: object, **extra: object) -> bytes:
    return json.dumps({"symbol": symbol, "price": price, "timestamp": stamp, **extra}).encode()


def test_same_millisecond_trades_with_seq_are_rows_and_without_seq_are_dead_lettered_by_name(
    pipeline: dict[str, Recorder], loop
) -> None:
    symbol = "NQ1 Index"
    home = partition_for(symbol, app.flameback_settings.partitions)
    ms = 1_764_600_000_001  # epoch milliseconds, 2025-12-01T14:40:00.001Z
    with_seq = [trade(symbol, 21000.0 + i, ms, seq=i, volume=i * 2) for i in (1, 2, 3)]
    no_seq = [
        trade(symbol, 21010.0, ms + 1, volume=1),
        trade(symbol, 21011.0, ms + 1, volume=1),
        trade(symbol, 21010.0, ms + 1, volume=1),
    ]
    messages = [(m, home) for m in with_seq + no_seq + with_seq]  # the seq trades again: a redelivery
    loop.run_until_complete(feed(ingest_stage.ingest, messages, key=symbol.encode()))

    stored = rows(symbol)
    assert [(r.seq, r.current_price, r.volume) for r in stored] == [
        (1, 21001.0, 2.0),
        (2, 21002.0, 4.0),
        (3, 21003.0, 6.0),
        (0, 21010.0, 1.0),
    ]
    assert {r.timestamp.isoformat(timespec="milliseconds") for r in stored[:3]} == {"2025-12-01T14:40:00.001"}
    (dead,) = pipeline["dlq"].sent
    assert dict(dead["headers"])["reason"] == b"same_timestamp" and json.loads(dead["value"])["price"] == 21011.0
    counters = runtime.counters.snapshot(0.0)
    assert (counters["same_timestamp_total"], counters["stale_total"]) == (1, 4)  # the identical no-seq tick + 3
    published = [json.loads(s["value"]) for s in pipeline["features"].sent]
    assert [(p["seq"], p["volume"]) for p in published] == [(1, 2.0), (2, 4.0), (3, 6.0), (0, 1.0)]


def test_a_tick_from_the_future_is_dead_lettered_and_does_not_poison_its_symbol(
    pipeline: dict[str, Recorder], loop
) -> None:
    symbol = "Z 1 Index"
    home = partition_for(symbol, app.flameback_settings.partitions)
    good = [tick(symbol, 7000.0 + i, i) for i in range(1, 26)]
    messages = [(m, home) for m in good[:10] + [trade(symbol, 1.0, "2999-01-01T00:00:00")] + good[10:]]
    loop.run_until_complete(feed(ingest_stage.ingest, messages, key=symbol.encode()))

    assert len(rows(symbol)) == len(good)  # every good tick after the 2999 one is a row
    (dead,) = pipeline["dlq"].sent
    assert dict(dead["headers"])["reason"] == b"future_timestamp"


def test_new_symbols_beyond_the_bound_are_dead_lettered(pipeline: dict[str, Recorder], loop, monkeypatch) -> None:
    from tables.symbol_census import SymbolCensus

    known = [s.decode() for s in symbol_states]
    monkeypatch.setattr(indicator_stage, "census", SymbolCensus(limit=len(known) + 2))
    home = partition_for("A", app.flameback_settings.partitions)
    fresh = [f"FLOOD{i}" for i in range(40) if partition_for(f"FLOOD{i}", app.flameback_settings.partitions) == home]
    messages = [(tick(symbol, 1.0, 1), home) for symbol in fresh]
    for symbol, message in zip(fresh, messages, strict=True):  # each keyed by its own symbol
        loop.run_until_complete(feed(ingest_stage.ingest, [message], key=symbol.encode()))

    stored = {s for s in fresh if rows(s)}
    assert stored == set(fresh[:2])
    reasons = [dict(s["headers"])["reason"] for s in pipeline["dlq"].sent]
    assert reasons == [b"too_many_symbols"] * (len(fresh) - 2)


def test_unkeyed_ticks_take_the_repartition_hop_even_on_the_home_partition(pipeline: dict[str, Recorder], loop) -> None:
    symbol = "SI1 Comdty"
    home = partition_for(symbol, app.flameback_settings.partitions)
    loop.run_until_complete(feed(ingest_stage.ingest, [(tick(symbol, 25.0, 1), home)], key=None))
    assert rows(symbol) == [] and len(pipeline["rekeyed"].sent) == 1


def test_ticks_off_their_partition_take_the_repartition_hop(pipeline: dict[str, Recorder], loop) -> None:
    symbol = "GC1 Comdty"
    partitions = app.flameback_settings.partitions
    elsewhere = (partition_for(symbol, partitions) + 1) % partitions
    loop.run_until_complete(feed(ingest_stage.ingest, [(tick(symbol, 1800.0, 1), elsewhere)], key=symbol.encode()))

    assert rows(symbol) == []
    (sent,) = pipeline["rekeyed"].sent
    assert sent["key"] == symbol.encode() and json.loads(sent["value"])["price"] == 1800.0
    assert runtime.counters.forwarded == 1


def test_only_processed_ticks_are_acknowledged(pipeline: dict[str, Recorder], loop, monkeypatch) -> None:
    """A batch whose processing fails half way keeps its offsets uncommitted (Kafka delivers it again).

    Faust's ``take_events`` acknowledges its batch in a ``finally`` even when the agent
    body raised; the processed-only guard (``faust_fixes.acks.ProcessedOnlyAcks``) refuses those acks. The
    messages here are the consumer's own kind, so acks reach ``Consumer.ack`` as in a
    worker, and ``futures-ticks`` is an acking topic as it is once the worker subscribes.
    """
    symbol = "HG1 Comdty"
    home = partition_for(symbol, app.flameback_settings.partitions)
    monkeypatch.setattr(app.topics, "_acking_topics", {TICKS})
    crashed: list[int] = []

    async def crash_half_way(batch: list) -> None:
        crashed.append(len(batch))
        raise RuntimeError("simulated failure in the indicator stage")

    async def put_one(day: int) -> ConsumerMessage:
        async with ingest_stage.ingest.test_context() as ctx:
            as_consumed = ctx.to_message

            def consumer_message(*args: object, **kwargs: object) -> ConsumerMessage:
                plain = as_consumed(*args, **kwargs)
                return ConsumerMessage(
                    plain.topic,
                    plain.partition,
                    1000 + day,
                    plain.timestamp,
                    0,
                    None,
                    plain.key,
                    plain.value,
                    None,
                    generation_id=plain.generation_id,
                )

            monkeypatch.setattr(ctx, "to_message", consumer_message)
            event = await ctx.put(tick(symbol, 4.0 + day, day), key=symbol.encode(), partition=home, wait=False)
            await until(lambda: crashed or runtime.counters.processed)
            return event.message

    acked = app.consumer._acked_index
    ok = loop.run_until_complete(put_one(1))
    assert not crashed and ok.offset in acked[ok.tp]  # a processed tick is acknowledged
    monkeypatch.setattr(ingest_stage, "process_ticks", crash_half_way)
    failed = loop.run_until_complete(put_one(2))
    assert crashed == [1]
    assert failed.offset not in acked[failed.tp] and failed not in app.consumer._unacked_messages
