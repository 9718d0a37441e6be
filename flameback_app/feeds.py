"""Feeds that write JSON ticks to ``futures-ticks``: CSV replay and a synthetic live market.

Reads: a tick CSV (wide or long, via :mod:`flameback_app.ticks_csv`) or nothing
(simulation). Writes: ``futures-ticks``, keyed by symbol so ticks land on their
symbol's partition and need no repartition hop. Topics are created explicitly
first (DESIGN §8: never rely on the broker's auto-create).
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from tqdm import tqdm

from flameback_app.broker import ensure_topics
from flameback_app.records import Tick, utc_now
from flameback_app.settings import Settings
from flameback_app.ticks_csv import read_ticks
from flameback_app.topics import TICKS, all_topic_partitions

SIMULATED_SYMBOLS = (
    "CL1 Comdty", "CO1 Comdty", "NG1 Comdty", "HO1 Comdty", "GC1 Comdty", "SI1 Comdty", "HG1 Comdty",
    "C 1 Comdty", "W 1 Comdty", "S 1 Comdty", "ES1 Index", "NQ1 Index", "NK1 Index", "Z 1 Index",
)  # fmt: skip


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


def looped(ticks: Sequence[Tick], passes: int | None) -> Iterator[Tick]:
    """Repeat the ticks, shifting each pass past the previous one so timestamps keep increasing."""
    if not ticks:
        return
    span = ticks[-1].timestamp - ticks[0].timestamp + timedelta(days=1)
    n = 0
    while passes is None or n < passes:
        shift = span * n
        for tick in ticks:
            yield Tick(tick.symbol, tick.price, tick.timestamp + shift) if n else tick
        n += 1


async def produce(settings: Settings, ticks: Iterable[Tick], *, rate: float | None, total: int | None,
                  progress: bool, desc: str) -> FeedSummary:  # fmt: skip
    """Send ticks keyed by symbol, at ``rate`` ticks/s (None: as fast as possible)."""
    await ensure_topics(settings.bootstrap_servers, all_topic_partitions(settings.partitions))
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=5, max_batch_size=262144)
    await producer.start()
    summary = FeedSummary()
    started = time.monotonic()
    bar = tqdm(total=total, desc=desc, unit="tick", file=sys.stderr, disable=not progress, mininterval=0.5)
    try:
        for tick in ticks:
            await producer.send(TICKS, key=tick.symbol.encode(), value=tick.to_json_bytes())
            summary.sent += 1
            if summary.sent % 256 == 0:
                bar.update(256)
                if rate:
                    await _pace(started, summary.sent, rate)
        await producer.flush()
    finally:
        bar.update(summary.sent % 256)
        bar.close()
        await producer.stop()
    summary.elapsed_s = time.monotonic() - started
    return summary


async def _pace(started: float, sent: int, rate: float) -> None:
    ahead = sent / rate - (time.monotonic() - started)
    if ahead > 0:
        await asyncio.sleep(ahead)


async def replay(settings: Settings, path: Path, *, rate: float | None, loop: bool, symbols: set[str] | None,
                 progress: bool = True) -> FeedSummary:  # fmt: skip
    """Replay a tick file (optionally looping forever with increasing timestamps)."""
    ticks, skipped = load_replay_ticks(path, symbols)
    stream = looped(ticks, None if loop else 1)
    summary = await produce(settings, stream, rate=rate, total=None if loop else len(ticks), progress=progress,
                            desc=f"replay {path.name}")  # fmt: skip
    summary.skipped = skipped
    return summary


def simulated_ticks(symbols: Sequence[str], *, seed: int, start: datetime, step: timedelta,
                    rounds: int | None) -> Iterator[Tick]:  # fmt: skip
    """Geometric random walks, one tick per symbol per round, each with its own daily volatility."""
    rng = random.Random(seed)
    prices = {s: rng.uniform(20, 5000) for s in symbols}
    vols = {s: rng.uniform(0.008, 0.03) for s in symbols}  # daily σ of real futures: ~1–3 %
    per_step = math.sqrt(step.total_seconds() / 86400.0)
    n = 0
    while rounds is None or n < rounds:
        stamp = start + step * n
        for symbol in symbols:
            sigma = vols[symbol] * per_step
            prices[symbol] *= math.exp(rng.gauss(0.0, sigma) - 0.5 * sigma * sigma)
            yield Tick(symbol, round(prices[symbol], 6), stamp)
        n += 1


async def simulate(settings: Settings, *, symbols: Sequence[str], rate: float, seed: int, step_s: float,
                   rounds: int | None, progress: bool = True) -> FeedSummary:  # fmt: skip
    """A synthetic live feed starting now: ``rate`` ticks/s across ``symbols``."""
    ticks = simulated_ticks(symbols, seed=seed, start=utc_now(), step=timedelta(seconds=step_s), rounds=rounds)
    total = rounds * len(symbols) if rounds else None
    return await produce(settings, ticks, rate=rate, total=total, progress=progress, desc="simulate")
