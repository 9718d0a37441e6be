"""Feeds that write JSON ticks to ``futures-ticks``: CSV replay and a synthetic live market.

Reads: a tick CSV (wide or long, via :mod:`flameback_app.core.ticks_csv`) or nothing
(simulation). Writes: ``futures-ticks``, keyed by symbol so ticks land on their
symbol's partition and need no repartition hop, a symbol's consecutive ticks packed
into one message where the rate allows (:class:`TickPacker`). Topics are created
explicitly first (docs/broker-traps.md, "Partitions": never rely on the broker's
auto-create).
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tqdm import tqdm

from flameback_app.broker.embedded import ensure_topics, wait_for_broker
from flameback_app.core.records import Tick, ticks_to_json_bytes, utc_now
from flameback_app.core.ticks_csv import read_ticks
from flameback_app.kafka.faust_fixes.clients import Producer as FixedProducer  # aiokafka producer with our client fixes
from flameback_app.kafka.kafka_client import kafka_client_config
from flameback_app.settings import Settings

SIMULATED_SYMBOLS = (
    "CL1 Comdty",
    "CO1 Comdty",
    "NG1 Comdty",
    "HO1 Comdty",
    "GC1 Comdty",
    "SI1 Comdty",
    "HG1 Comdty",
    "C 1 Comdty",
    "W 1 Comdty",
    "S 1 Comdty",
    "ES1 Index",
    "NQ1 Index",
    "NK1 Index",
    "Z 1 Index",
)


@dataclass
class FeedSummary:
    sent: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0

    def line(self) -> str:
        rate = self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return f"sent {self.sent} ticks, skipped {self.skipped}, in {self.elapsed_s:.1f}s ({rate:,.0f} ticks/s)"


def load_replay_ticks(path: Path, symbols: set[str] | None) -> tuple[list[Tick], int]:
    """The file's ticks in time order (stable: a date's symbols keep file order) and how many were filtered out."""
    ticks, skipped = [], 0
    for located in read_ticks(path):
        if symbols is not None and located.tick.symbol not in symbols:
            skipped += 1
            continue
        ticks.append(located.tick)
    ticks.sort(key=lambda t: t.timestamp)
    if symbols is not None and not ticks:
        raise ValueError(f"{path}: none of the symbols {sorted(symbols)} has a tick in this file")
    return ticks, skipped


def looped(ticks: Sequence[Tick], passes: int | None, clock: Callable[[], datetime] = utc_now) -> Iterator[Tick]:
    """The file's ticks once as stamped, then again and again re-stamped at send time (:class:`WallClockStamps`).

    Shifting each pass by the file's span would keep stamps increasing but run them
    years ahead of the clock, where the worker dead-letters them (``future_timestamp``).
    """
    yield from ticks
    restamp = WallClockStamps(clock)
    for tick in ticks:
        restamp.floor(tick)
    n = 1
    while ticks and (passes is None or n < passes):
        yield from map(restamp, ticks)
        n += 1


class WallClockStamps:
    """Stamp each tick with the wall clock as it is sent, strictly increasing per symbol.

    A symbol's stamp is ``max(now, its previous stamp + 1 µs)``: never behind its own
    history (the worker would call it stale) and ahead of the clock only by the
    microseconds that many ticks in one clock reading need.
    """

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        self.last: dict[str, datetime] = {}

    def floor(self, tick: Tick) -> None:
        """Stamps of ``tick.symbol`` must go past this tick's (the last one sent before re-stamping)."""
        self.last[tick.symbol] = max(self.last.get(tick.symbol, tick.timestamp), tick.timestamp)

    def __call__(self, tick: Tick) -> Tick:
        stamp = self.clock()
        previous = self.last.get(tick.symbol)
        if previous is not None and stamp <= previous:
            stamp = previous + timedelta(microseconds=1)
        self.last[tick.symbol] = stamp
        return Tick(tick.symbol, tick.price, stamp, tick.seq, tick.volume)


@dataclass(slots=True)
class PackedMessage:
    """Consecutive ticks of one symbol sent as one Kafka message (offered_at: the first one's wall time)."""

    symbol: str
    ticks: list[Tick]
    offered_at: float


class TickPacker:
    """Per-symbol buffers that turn a tick stream into packed messages.

    Every Kafka message costs the worker a fixed ~0.3 ms in Faust's per-event plumbing
    (docs/broker-traps.md, "Per-event cost"), whatever it carries, so a feed that packs a
    symbol's consecutive ticks into one message moves many times more ticks per second.
    A buffer is sent when it holds ``max_ticks`` ticks, or once its oldest tick has
    waited ``linger_s``: at a live rate most messages hold one tick and latency grows by at most the linger;
    at full speed they are full. Per-symbol order is kept (one key, one partition).
    """

    def __init__(self, max_ticks: int, linger_s: float) -> None:
        if max_ticks < 1:
            raise ValueError(f"ticks per message must be at least 1, not {max_ticks}")
        self.max_ticks, self.linger_s = max_ticks, linger_s
        self._buffers: dict[str, PackedMessage] = {}
        self._oldest: float | None = None

    def add(self, tick: Tick, now: float) -> PackedMessage | None:
        """Buffer a tick; return its symbol's message if that is now full."""
        buffer = self._buffers.get(tick.symbol)
        if buffer is None:
            buffer = self._buffers[tick.symbol] = PackedMessage(tick.symbol, [], now)
            if self._oldest is None:
                self._oldest = now
        buffer.ticks.append(tick)
        if len(buffer.ticks) < self.max_ticks:
            return None
        del self._buffers[tick.symbol]
        if not self._buffers:
            self._oldest = None
        return buffer

    def due(self, now: float) -> bool:
        """True once the oldest buffered tick has waited its linger."""
        return self._oldest is not None and now - self._oldest >= self.linger_s

    def drain(self) -> list[PackedMessage]:
        """Every buffered message, oldest first; the buffers are left empty."""
        messages = sorted(self._buffers.values(), key=lambda m: m.offered_at)
        self._buffers.clear()
        self._oldest = None
        return messages


@dataclass(frozen=True, slots=True)
class Pacing:
    """How a feed sends: ``rate`` ticks/s (None: as fast as possible) and how it packs them."""

    rate: float | None = None
    pack: int = 64
    linger_s: float = 0.02


async def produce(
    settings: Settings, ticks: Iterable[Tick], pacing: Pacing, *, total: int | None, progress: bool, desc: str
) -> FeedSummary:
    """Send ticks keyed by symbol, packed per ``pacing``, at its rate.

    A message's Kafka timestamp is the wall time its first tick was offered, so the
    worker's ``latency_ms`` includes the time a tick waited in the packer.
    """
    kafka = kafka_client_config(settings)
    security = kafka.security_kwargs()
    await wait_for_broker(list(kafka.bootstrap), settings.broker_wait_s, security=security)
    await ensure_topics(list(kafka.bootstrap), settings.topics.with_partitions(settings.partitions), security=security)
    producer = FixedProducer(**kafka.kwargs(), linger_ms=5, max_batch_size=262144)
    await producer.start()
    packer = TickPacker(pacing.pack, pacing.linger_s)
    summary = FeedSummary()
    started, rate = time.time(), pacing.rate
    bar = tqdm(total=total, desc=desc, unit="tick", file=sys.stderr, disable=not progress, mininterval=0.5)

    async def send(messages: Iterable[PackedMessage]) -> None:
        for m in messages:
            await producer.send(
                settings.ticks_topic,
                key=m.symbol.encode(),
                value=ticks_to_json_bytes(m.ticks),
                timestamp_ms=int(m.offered_at * 1000),
            )

    try:
        for tick in ticks:
            now = time.time()
            if full := packer.add(tick, now):
                await send([full])
            summary.sent += 1
            if summary.sent % 256 == 0:
                bar.update(256)
            ahead = summary.sent / rate - (now - started) if rate else 0.0
            if ahead > 0.001:
                await send(packer.drain())
                await asyncio.sleep(ahead)
            elif packer.due(now):
                await send(packer.drain())
        await send(packer.drain())
        await producer.flush()
    finally:
        bar.update(summary.sent % 256)
        bar.close()
        await producer.stop()
    summary.elapsed_s = time.time() - started
    return summary


async def replay(
    settings: Settings, path: Path, pacing: Pacing, *, loop: bool, symbols: set[str] | None, progress: bool = True
) -> FeedSummary:
    """Replay a tick file (optionally looping forever with increasing timestamps)."""
    ticks, skipped = load_replay_ticks(path, symbols)
    stream = looped(ticks, None if loop else 1)
    summary = await produce(
        settings, stream, pacing, total=None if loop else len(ticks), progress=progress, desc=f"replay {path.name}"
    )
    summary.skipped = skipped
    return summary


def simulated_ticks(
    symbols: Sequence[str], *, seed: int, start: datetime, step: timedelta, rounds: int | None
) -> Iterator[Tick]:
    """Geometric random walks, one tick per symbol per round, each with its own daily volatility.

    ``step`` is the market time one round stands for (it scales the moves) and spaces
    the stamps from ``start``; :func:`simulate` re-stamps them at the wall clock. Each
    tick has a traded size (lots) so the terminal's volume view has something to show.
    """
    rng = random.Random(seed)  # noqa: S311 - simulated prices, reproducible by seed; nothing secret
    prices = {s: rng.uniform(20, 5000) for s in symbols}
    vols = {s: rng.uniform(0.008, 0.03) for s in symbols}  # daily σ of real futures: ~1–3 %
    per_step = math.sqrt(step.total_seconds() / 86400.0)
    n = 0
    while rounds is None or n < rounds:
        stamp = start + step * n
        for symbol in symbols:
            sigma = vols[symbol] * per_step
            prices[symbol] *= math.exp(rng.gauss(0.0, sigma) - 0.5 * sigma * sigma)
            yield Tick(symbol, round(prices[symbol], 6), stamp, volume=float(rng.randint(1, 50)))
        n += 1


async def simulate(
    settings: Settings,
    pacing: Pacing,
    *,
    symbols: Sequence[str],
    seed: int,
    step_s: float,
    rounds: int | None,
    progress: bool = True,
) -> FeedSummary:
    """A synthetic live feed: ``pacing.rate`` ticks/s across ``symbols``, stamped at the wall clock as sent.

    Stamping a round every ``step_s`` of market time would run ahead of the clock within
    minutes at 200 ticks/s, and the worker dead-letters ticks from the future.
    """
    walk = simulated_ticks(symbols, seed=seed, start=utc_now(), step=timedelta(seconds=step_s), rounds=rounds)
    ticks = map(WallClockStamps(), walk)
    total = rounds * len(symbols) if rounds else None
    return await produce(settings, ticks, pacing, total=total, progress=progress, desc="simulate")
