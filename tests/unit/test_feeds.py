"""The feeds' tick packer: full messages at full speed, single ticks at a live rate, order kept."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from flameback_app.feeds import TickPacker
from flameback_app.records import Tick


def ticks(symbols: list[str], rounds: int) -> list[Tick]:
    start = datetime(2024, 1, 1)
    return [Tick(s, 100.0 + r, start + timedelta(days=r)) for r in range(rounds) for s in symbols]


def test_at_full_speed_each_symbol_fills_its_own_messages_in_order() -> None:
    packer = TickPacker(max_ticks=4, linger_s=1.0)
    stream = ticks(["A", "B", "C"], rounds=10)
    messages = [m for t in stream if (m := packer.add(t, now=0.0))] + packer.drain()
    assert sorted(len(m.ticks) for m in messages) == [2, 2, 2, 4, 4, 4, 4, 4, 4]
    for m in messages:
        assert {t.symbol for t in m.ticks} == {m.symbol}
    for symbol in "ABC":
        sent = [t for m in messages if m.symbol == symbol for t in m.ticks]
        assert sent == [t for t in stream if t.symbol == symbol]  # nothing lost, nothing reordered


def test_a_buffer_is_due_once_its_oldest_tick_has_lingered() -> None:
    packer = TickPacker(max_ticks=100, linger_s=0.25)
    first, second = ticks(["A", "B"], rounds=1)
    packer.add(first, now=10.0)
    packer.add(second, now=10.125)
    assert not packer.due(10.2)
    assert packer.due(10.25)
    drained = packer.drain()
    assert [(m.symbol, m.offered_at) for m in drained] == [("A", 10.0), ("B", 10.125)]
    assert not packer.due(99.0) and packer.drain() == []


def test_one_tick_per_message_when_packing_is_off() -> None:
    packer = TickPacker(max_ticks=1, linger_s=0.0)
    assert all(len(packer.add(t, now=0.0).ticks) == 1 for t in ticks(["A", "B"], rounds=3))


def test_packing_needs_at_least_one_tick() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        TickPacker(max_ticks=0, linger_s=0.0)
