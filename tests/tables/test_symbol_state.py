"""The dedup contract of one symbol's state: (timestamp, seq) marker, same-timestamp ticks, and the symbol bound."""

from __future__ import annotations

from datetime import datetime, timedelta

from flameback_app.core.records import Tick
from tables.symbol_census import SymbolCensus
from tables.symbol_state import SymbolState, Verdict

T0 = datetime(2026, 12, 1, 14, 30, 0, 1000)


def feed(state: SymbolState, ticks: list[Tick]) -> list[Verdict]:
    verdicts = []
    for tick in ticks:
        verdict = state.classify(tick)
        if verdict is Verdict.NEW:
            state.apply(tick)
        verdicts.append(verdict)
    return verdicts


def test_three_trades_in_one_millisecond_with_seq_are_all_applied_and_a_redelivery_is_stale() -> None:
    trades = [Tick("ES1 Index", 6000.25 + i, T0, seq=i, volume=10.0 * i) for i in (1, 2, 3)]
    state = SymbolState()
    assert feed(state, trades) == [Verdict.NEW] * 3
    assert (state.ticks, state.last_ts, state.last_seq) == (3, T0, 3)
    assert feed(state, trades) == [Verdict.STALE] * 3  # redelivered after a crash: never applied twice


def test_the_marker_survives_the_table_round_trip() -> None:
    state = SymbolState()
    feed(state, [Tick("X", 1.0, T0, seq=5, volume=2.0)])
    again = SymbolState.from_value(state.to_value())
    assert (again.last_ts, again.last_seq, again.last_price, again.last_volume) == (T0, 5, 1.0, 2.0)
    assert again.classify(Tick("X", 1.0, T0, seq=5, volume=2.0)) is Verdict.STALE
    assert again.classify(Tick("X", 1.0, T0, seq=6)) is Verdict.NEW


def test_a_row_written_before_seq_existed_loads_with_seq_zero() -> None:
    old = SymbolState()
    feed(old, [Tick("X", 1.0, T0)])
    value = old.to_value()
    for key in ("last_seq", "last_price", "last_volume"):
        del value[key]
    state = SymbolState.from_value(value)
    assert state.last_seq == 0
    assert state.classify(Tick("X", 9.0, T0)) is Verdict.STALE  # unknown last price: assume a redelivery
    assert state.classify(Tick("X", 9.0, T0, seq=1)) is Verdict.NEW


def test_without_seq_a_different_tick_at_the_same_timestamp_is_named_not_stale() -> None:
    state = SymbolState()
    first = Tick("X", 100.0, T0, volume=5.0)
    assert feed(state, [first]) == [Verdict.NEW]
    assert state.classify(Tick("X", 100.5, T0)) is Verdict.SAME_TIMESTAMP
    assert state.classify(Tick("X", 100.0, T0, volume=7.0)) is Verdict.SAME_TIMESTAMP
    assert state.classify(first) is Verdict.STALE  # the same tick again: a redelivery
    assert state.classify(Tick("X", 100.5, T0 - timedelta(microseconds=1))) is Verdict.STALE  # out of order
    assert state.classify(Tick("X", 100.5, T0 + timedelta(microseconds=1))) is Verdict.NEW


def test_seq_orders_within_a_timestamp_only() -> None:
    state = SymbolState()
    feed(state, [Tick("X", 1.0, T0, seq=900)])
    assert state.classify(Tick("X", 1.0, T0, seq=899)) is Verdict.STALE
    assert state.classify(Tick("X", 1.0, T0 + timedelta(milliseconds=1), seq=1)) is Verdict.NEW  # a new instant


def test_the_feature_row_carries_seq_and_volume() -> None:
    row = SymbolState().apply(Tick("X", 1.0, T0, seq=4, volume=3.5))
    assert (row.seq, row.volume, row.timestamp) == (4, 3.5, T0)
    assert (row.columns()["seq"], row.columns()["volume"]) == (4, 3.5)
    assert SymbolState().apply(Tick("X", 1.0, T0)).seq == 0


def test_the_census_admits_known_symbols_always_and_new_ones_up_to_the_bound() -> None:
    table: list[str] = ["A", "B"]
    census = SymbolCensus(limit=3)
    assert census.admit("C", lambda: table, now=0.0)  # counts A, B from the table, admits C
    table.append("C")
    assert not census.admit("D", lambda: table, now=0.5)
    assert census.admit("A", lambda: table, now=0.6)  # a symbol with state is never refused
    table.remove("B")  # its partition moved to another worker
    assert not census.admit("D", lambda: table, now=0.9)  # recounted at most once a second at the bound
    assert census.admit("D", lambda: table, now=1.6)
    assert len(census) == 3


def test_a_flood_of_new_symbols_recounts_rarely() -> None:
    calls = []
    census = SymbolCensus(limit=10)

    def table() -> list[str]:
        calls.append(1)
        return [f"S{i}" for i in range(10)]

    admitted = sum(census.admit(f"NEW{i}", table, now=i / 10_000) for i in range(100_000))
    assert admitted == 0 and len(calls) <= 11  # 100,000 refusals over 10 s: ~1 recount a second
