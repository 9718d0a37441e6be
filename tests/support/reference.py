"""The TA-Lib reference for the indicator engine: every README field by TA-Lib's batch functions, and the check.

Used by the indicator tests and by ``bench.indicators`` (its accuracy line), so both
compare the engine against one mapping of fields to TA-Lib calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import talib

from flameback_app.core.ta import FEATURE_FIELDS, IndicatorState, step

SCALE_FREE_FIELDS = frozenset({"rsi_14", "volatility_20", "momentum_10", "price_change_pct"})


def talib_features(prices: Sequence[float], periods_per_year: float = 252.0) -> dict[str, np.ndarray]:
    """Every field of the README's indicator table by TA-Lib's batch functions (NaN where TA-Lib has no value)."""
    p = np.asarray(prices, dtype=float)
    macd, signal, histogram = talib.MACD(p, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(p, 20, 2.0, 2.0, 0)

    def lag(k: int) -> np.ndarray:
        return np.concatenate([np.full(min(k, len(p)), np.nan), p[:-k]])

    return {
        "sma_5": talib.SMA(p, 5),
        "sma_10": talib.SMA(p, 10),
        "sma_20": talib.SMA(p, 20),
        "ema_12": talib.EMA(p, 12),
        "ema_26": talib.EMA(p, 26),
        "rsi_14": talib.RSI(p, 14),
        "macd_line": macd,
        "macd_signal": signal,
        "macd_histogram": histogram,
        "bb_upper": upper,
        "bb_middle": middle,
        "bb_lower": lower,
        "volatility_20": talib.STDDEV(talib.ROCP(p, 1), 20, 1.0) * math.sqrt(periods_per_year),
        "momentum_10": talib.ROCP(p, 10),
        "price_change": talib.MOM(p, 1),
        "price_change_pct": talib.ROC(p, 1),
        "lag_1": lag(1),
        "lag_2": lag(2),
        "lag_5": lag(5),
    }


def engine_features(prices: Sequence[float], periods_per_year: float = 252.0) -> dict[str, np.ndarray]:
    """The engine's output as float arrays per field, NaN for None."""
    state = IndicatorState(periods_per_year=periods_per_year)
    rows = []
    for price in prices:
        state, features = step(state, price)
        rows.append([math.nan if v is None else v for v in features.values()])
    table = np.array(rows, dtype=float).reshape(len(rows), len(FEATURE_FIELDS))
    return {name: table[:, j] for j, name in enumerate(FEATURE_FIELDS)}


def compare(
    got: dict[str, np.ndarray], want: dict[str, np.ndarray], scale: float = 1.0, fields: Sequence[str] = FEATURE_FIELDS
) -> dict[str, tuple[int, float, float]]:
    """Assert None exactly where the reference is NaN and values within 1e-9 of max(|ref|, scale).

    ``scale`` is 1 for the README's rule (relative, absolute below 1); a tiny-price
    series passes its price level so the check of price-level fields stays relative
    to the data (the scale-free fields keep the README's rule).
    Returns per field (values compared, worst absolute error, worst relative error).
    """
    figures = {}
    for name in fields:
        g, w = got[name], want[name]
        assert np.array_equal(np.isnan(g), np.isnan(w)), f"{name}: None at {np.flatnonzero(np.isnan(g) != np.isnan(w))}"
        valid = ~np.isnan(w)
        error = np.abs(g[valid] - w[valid])
        bound = 1e-9 * np.maximum(np.abs(w[valid]), 1.0 if name in SCALE_FREE_FIELDS else scale)
        bad = np.flatnonzero(error > bound)
        assert bad.size == 0, (
            f"{name}: {bad.size} values off, first at valid index {bad[0]}: {g[valid][bad[0]]!r} vs {w[valid][bad[0]]!r}"
        )
        relative = error / np.maximum(np.abs(w[valid]), 1e-300)
        figures[name] = (int(valid.sum()), float(error.max(initial=0.0)), float(relative.max(initial=0.0)))
    return figures
