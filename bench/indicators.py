"""Indicator engine benchmark: µs per tick for this engine, a naive recompute-from-deque engine and talipp.

Reads the real file (``../shared/data/seas_port_final_2001_2019.csv``) when present,
else generates a seeded random walk; writes only to stdout. All three engines run in
one process on the same ticks, for 1 symbol and for the ticks spread over 39 symbols,
so the ratios are same-run figures. The engine's output is also checked against
TA-Lib in the same run (worst error printed), so "faster while exact" is visible.

    .venv/bin/python -m bench.indicators [--ticks 200000]
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from itertools import pairwise

import numpy as np
from talipp.indicators import BB, EMA, MACD, ROC, RSI, SMA, StdDev

from flameback_app.core.ta import FEATURE_FIELDS, IndicatorState, step
from flameback_app.core.ticks_csv import read_ticks
from flameback_app.settings import Settings
from tests.support.reference import engine_features, talib_features

SYMBOLS = 39
ANNUALISER = math.sqrt(252)

Stream = list[tuple[str, float]]


def load_ticks(ticks: int) -> tuple[Stream, Stream, str]:
    """(1-symbol stream, 39-symbol stream, source description), each exactly ``ticks`` long."""
    real_file = Settings().market_file
    if real_file.is_file():
        real = [(t.tick.symbol, t.tick.price) for t in read_ticks(real_file)]
        source = f"real file ({len(real):,} ticks, {len({s for s, _ in real})} symbols; cycled to {ticks:,})"
    else:
        rng = np.random.default_rng(7)
        walk = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, ticks)))
        real = [(f"SYM{i % SYMBOLS:02d}", float(p)) for i, p in enumerate(walk)]
        source = f"seeded random walk ({ticks:,} ticks; real file absent at {real_file})"
    spread = [real[i % len(real)] for i in range(ticks)]
    return _one_symbol_path(real, ticks), spread, source


def _one_symbol_path(stream: Stream, ticks: int) -> Stream:
    """One symbol's path of ``ticks`` ticks: every symbol's own series in turn, each rescaled to start at 100.

    Real moves, a bounded price level (chaining all 39 symbols' returns instead would
    wander from 1e-2 to 1e10, where TA-Lib's running sums, not this engine, lose digits).
    """
    by_symbol: dict[str, list[float]] = {}
    for symbol, price in stream:
        by_symbol.setdefault(symbol, []).append(price)
    path: Stream = []
    for prices in by_symbol.values():
        scale = 100.0 / prices[0] if prices[0] > 0.0 else 1.0
        path.extend(("ONE", price * scale) for price in prices)
    return [path[i % len(path)] for i in range(ticks)]


def run_engine(stream: Stream) -> None:
    states: dict[str, IndicatorState] = {}
    for symbol, price in stream:
        state = states.get(symbol)
        if state is None:
            state = states[symbol] = IndicatorState()
        step(state, price)


def _ema(values: list[float], n: int) -> float:
    """EMA by iterating the whole window, seeded by its first value (the prototype's way)."""
    ema = values[0]
    for v in values[1:]:
        ema += (v - ema) * (2.0 / (n + 1))
    return ema


def _ema_series(values: list[float], n: int) -> list[float]:
    ema, series = values[0], []
    for v in values:
        ema += (v - ema) * (2.0 / (n + 1))
        series.append(ema)
    return series


def _pstd(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def naive_features(window: deque[float]) -> dict[str, float | None]:
    """The original prototype's style: every field recomputed from the deque, O(window) per tick.

    One helper per indicator, each walking the window (SMA by summing, EMA by
    iterating, MACD signal as an EMA of the MACD line over the window, RSI from the
    mean of the last 14 deltas). Only for timing: its EMAs are not TA-Lib's.
    """
    p = list(window)
    n = len(p)
    line = [f - s for f, s in zip(_ema_series(p, 12), _ema_series(p, 26), strict=True)]
    macd, signal = line[-1], _ema(line, 9)
    deltas = [b - a for a, b in pairwise(p[-15:])]
    gain = sum(d for d in deltas if d > 0) / 14
    loss = -sum(d for d in deltas if d < 0) / 14
    sma20 = sum(p[-20:]) / 20 if n >= 20 else None
    std20 = _pstd(p[-20:]) if n >= 20 else None
    returns = [(b - a) / a for a, b in pairwise(p[-21:])]
    return {
        "sma_5": sum(p[-5:]) / 5 if n >= 5 else None,
        "sma_10": sum(p[-10:]) / 10 if n >= 10 else None,
        "sma_20": sma20,
        "ema_12": _ema(p, 12),
        "ema_26": _ema(p, 26),
        "rsi_14": 100 * gain / (gain + loss) if n > 14 and gain + loss else None,
        "macd_line": macd,
        "macd_signal": signal,
        "macd_histogram": macd - signal,
        "bb_upper": sma20 + 2 * std20 if std20 is not None else None,
        "bb_middle": sma20,
        "bb_lower": sma20 - 2 * std20 if std20 is not None else None,
        "volatility_20": _pstd(returns) * ANNUALISER if n > 20 else None,
        "momentum_10": p[-1] / p[-11] - 1 if n > 10 else None,
        "price_change": p[-1] - p[-2] if n > 1 else None,
        "price_change_pct": (p[-1] / p[-2] - 1) * 100 if n > 1 else None,
        "lag_1": p[-2] if n > 1 else None,
        "lag_2": p[-3] if n > 2 else None,
        "lag_5": p[-6] if n > 5 else None,
    }


def run_naive(stream: Stream) -> None:
    windows: dict[str, deque[float]] = {}
    for symbol, price in stream:
        window = windows.get(symbol)
        if window is None:
            window = windows[symbol] = deque(maxlen=100)
        window.append(price)
        naive_features(window)


class TalippEngine:
    """The same fields from talipp's incremental indicators (its own definitions; timed, not checked)."""

    def __init__(self) -> None:
        self.smas = (SMA(5), SMA(10), SMA(20))
        self.emas = (EMA(12), EMA(26))
        self.rsi, self.macd, self.bb = RSI(14), MACD(12, 26, 9), BB(20, 2.0)
        self.roc1, self.roc10 = ROC(1), ROC(10)
        self.vol = StdDev(20, input_indicator=self.roc1)
        self.prices: deque[float] = deque(maxlen=6)

    def add(self, price: float) -> dict[str, float | None]:
        for indicator in (*self.smas, *self.emas, self.rsi, self.macd, self.bb, self.roc1, self.roc10):
            indicator.add(price)
        self.prices.append(price)
        macd, bb, p = self.macd[-1], self.bb[-1], self.prices
        vol = self.vol[-1] if len(self.vol) else None
        return {
            "sma_5": self.smas[0][-1],
            "sma_10": self.smas[1][-1],
            "sma_20": self.smas[2][-1],
            "ema_12": self.emas[0][-1],
            "ema_26": self.emas[1][-1],
            "rsi_14": self.rsi[-1],
            "macd_line": macd.macd if macd else None,
            "macd_signal": macd.signal if macd else None,
            "macd_histogram": macd.histogram if macd else None,
            "bb_upper": bb.ub if bb else None,
            "bb_middle": bb.cb if bb else None,
            "bb_lower": bb.lb if bb else None,
            "volatility_20": vol / 100 * ANNUALISER if vol is not None else None,
            "momentum_10": self.roc10[-1],
            "price_change": p[-1] - p[-2] if len(p) > 1 else None,
            "price_change_pct": self.roc1[-1],
            "lag_1": p[-2] if len(p) > 1 else None,
            "lag_2": p[-3] if len(p) > 2 else None,
            "lag_5": p[-6] if len(p) > 5 else None,
        }


def run_talipp(stream: Stream) -> None:
    engines: dict[str, TalippEngine] = {}
    for symbol, price in stream:
        engine = engines.get(symbol)
        if engine is None:
            engine = engines[symbol] = TalippEngine()
        engine.add(price)


def micros_per_tick(run: Callable[[Stream], None], stream: Stream, repeats: int = 1) -> float:
    """Best of ``repeats`` runs in CPU time (fresh state each, garbage collected before).

    CPU time, not wall time: on a shared 2-core machine other processes would
    otherwise inflate each engine by a different, random amount.
    """
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        run(stream)
        best = min(best, time.process_time() - start)
    return best / len(stream) * 1e6


def worst_error_vs_talib(streams: Iterable[Stream]) -> tuple[int, float]:
    """(values compared, worst |engine − TA-Lib| / max(1, |TA-Lib|)); raises if a None/NaN position differs."""
    compared, worst = 0, 0.0
    for stream in streams:
        by_symbol: dict[str, list[float]] = {}
        for symbol, price in stream:
            by_symbol.setdefault(symbol, []).append(price)
        for prices in by_symbol.values():
            got, want = engine_features(prices), talib_features(prices)
            for name in FEATURE_FIELDS:
                if not np.array_equal(np.isnan(got[name]), np.isnan(want[name])):
                    raise AssertionError(f"engine None positions differ from TA-Lib NaN positions in {name}")
                valid = ~np.isnan(want[name])
                g, w = got[name][valid], want[name][valid]
                compared += int(valid.sum())
                worst = max(worst, float((np.abs(g - w) / np.maximum(np.abs(w), 1.0)).max(initial=0.0)))
    return compared, worst


def run(ticks: int = 200_000) -> list[dict]:
    """Time the three engines on both streams; rows of name / figure (µs/tick) / baseline (engine) / ratio."""
    one, spread, source = load_ticks(ticks)
    print(f"ticks: {source}")
    rows: list[dict] = []
    for label, stream in (("1 symbol", one), (f"{SYMBOLS} symbols", spread)):
        engine = micros_per_tick(run_engine, stream, repeats=3)
        rows.append({"name": f"engine, {label}", "figure": engine, "baseline": engine, "ratio": 1.0})
        for name, runner in (("naive deque(100)", run_naive), ("talipp", run_talipp)):
            figure = micros_per_tick(runner, stream)
            rows.append({"name": f"{name}, {label}", "figure": figure, "baseline": engine, "ratio": figure / engine})
    compared, worst = worst_error_vs_talib((one, spread))
    rows.append(
        {
            "name": f"engine vs TA-Lib, worst error ({compared:,} values)",
            "figure": worst,
            "baseline": 1e-9,
            "ratio": worst / 1e-9,
        }
    )
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'CPU µs per tick':<58}{'µs/tick':>10}{'engine':>10}{'× engine':>10}")
    for row in rows[:-1]:
        print(f"{row['name']:<58}{row['figure']:>10.2f}{row['baseline']:>10.2f}{row['ratio']:>10.1f}")
    last = rows[-1]
    print(f"{last['name']:<58}{last['figure']:>10.1e}  (tolerance {last['baseline']:.0e}; relative, absolute below 1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=200_000, help="ticks per stream (default 200,000)")
    print_table(run(parser.parse_args().ticks))


if __name__ == "__main__":
    main()
