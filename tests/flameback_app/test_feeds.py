"""The feeds: the tick packer (full messages at full speed, single ticks at a live rate, order kept) and their stamps."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from flameback_app.core.records import Tick
from flameback_app.feeds import TickPacker, WallClockStamps, looped, simulated_ticks


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


class FakeClock:
    """A wall clock the test moves (real time would make the check depend on the machine's speed)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_replay_repeat_restamps_later_passes_at_send_time_never_ahead_of_the_clock() -> None:
    file = [
        Tick(s, 10.0 + i, datetime(2019, 1, 1) + timedelta(days=i), seq=i, volume=1.0)
        for i in range(3)
        for s in ("A", "B")
    ]
    clock = FakeClock(datetime(2026, 12, 2, 12, 0))
    sent = []
    for tick in looped(file, passes=3, clock=clock):
        sent.append(tick)
        clock.now += timedelta(milliseconds=1) if len(sent) % 2 else timedelta(0)  # some share a clock reading
    assert sent[: len(file)] == file  # the first pass is the file as stamped
    for symbol in ("A", "B"):
        stamps = [t.timestamp for t in sent if t.symbol == symbol]
        assert all(b > a for a, b in itertools.pairwise(stamps)), symbol  # strictly increasing, across passes
    later = sent[len(file) :]
    assert len(later) == 2 * len(file) and all(t.timestamp <= clock.now + timedelta(microseconds=10) for t in later)
    assert [(t.price, t.seq, t.volume) for t in later] == [(t.price, t.seq, t.volume) for t in file] * 2


def test_simulated_ticks_are_stamped_at_the_wall_clock() -> None:
    walk = simulated_ticks(["A", "B"], seed=1, start=datetime(2026, 1, 1), step=timedelta(seconds=60), rounds=50)
    clock = FakeClock(datetime(2026, 12, 2, 12, 0))
    stamped = []
    for tick in map(WallClockStamps(clock), walk):
        stamped.append(tick)
        clock.now += timedelta(milliseconds=5)
    assert stamped[-1].timestamp <= clock.now  # 50 rounds of "60 s" would otherwise be 49 minutes ahead
    assert all(t.volume is not None and t.volume >= 1 for t in stamped)
    a = [t.timestamp for t in stamped if t.symbol == "A"]
    assert all(y > x for x, y in itertools.pairwise(a))
