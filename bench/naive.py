"""The original prototype's indicator style, as a baseline: recompute everything from a deque each tick.

SMA by summing the window, EMA by iterating the whole deque, RSI by averaging the last
14 deltas, MACD signal from a re-run EMA over the MACD history, Bollinger and
volatility from a fresh standard deviation. O(window) per tick; only for benchmarks.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence


def _sma(prices: Sequence[float], n: int) -> float | None:
    return sum(list(prices)[-n:]) / n if len(prices) >= n else None


def _ema(values: Sequence[float], n: int) -> float | None:
    if len(values) < n:
        return None
    alpha = 2.0 / (n + 1)
    ema = values[0]
    for v in list(values)[1:]:
        ema = alpha * v + (1 - alpha) * ema
    return ema


def _rsi(prices: Sequence[float], n: int = 14) -> float | None:
    if len(prices) <= n:
        return None
    p = list(prices)
    deltas = [p[i] - p[i - 1] for i in range(1, len(p))][-n:]
    gain = sum(d for d in deltas if d > 0) / n
    loss = -sum(d for d in deltas if d < 0) / n
    return 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)


def _std(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def naive_features(prices: deque) -> dict[str, float | None]:
    """Every indicator recomputed from the price deque (the prototype's way)."""
    p = list(prices)
    ema12, ema26 = _ema(p, 12), _ema(p, 26)
    macd = None if ema12 is None or ema26 is None else ema12 - ema26
    macd_history = [(_ema(p[:i], 12) or 0.0) - (_ema(p[:i], 26) or 0.0) for i in range(max(len(p) - 9, 26), len(p) + 1)]
    signal = _ema(macd_history, 9) if macd is not None else None
    sma20 = _sma(p, 20)
    std20 = _std(p[-20:]) if len(p) >= 20 else None
    returns = [(p[i] - p[i - 1]) / p[i - 1] for i in range(max(1, len(p) - 20), len(p)) if p[i - 1]]
    return {
        "sma_5": _sma(p, 5),
        "sma_10": _sma(p, 10),
        "sma_20": sma20,
        "ema_12": ema12,
        "ema_26": ema26,
        "rsi_14": _rsi(p),
        "macd_line": macd,
        "macd_signal": signal,
        "macd_histogram": None if signal is None else macd - signal,
        "bb_upper": None if std20 is None else sma20 + 2 * std20,
        "bb_middle": sma20,
        "bb_lower": None if std20 is None else sma20 - 2 * std20,
        "volatility_20": _std(returns) * math.sqrt(252) if len(returns) >= 20 else None,
        "momentum_10": p[-1] / p[-11] - 1 if len(p) > 10 and p[-11] else None,
        "price_change": p[-1] - p[-2] if len(p) > 1 else None,
        "price_change_pct": (p[-1] / p[-2] - 1) * 100 if len(p) > 1 and p[-2] else None,
        "lag_1": p[-2] if len(p) > 1 else None,
        "lag_2": p[-3] if len(p) > 2 else None,
        "lag_5": p[-6] if len(p) > 5 else None,
    }
