"""The incremental indicator engine: ``step(state, price) -> (state, features)`` in O(1).

Pure Python, no Faust: the same code runs live (the indicator agent), offline (the
``features`` command) and in training. Definitions follow TA-Lib (DESIGN §3); every
value equals TA-Lib's batch function on the same series after its warm-up and is
None exactly where TA-Lib gives NaN. Where TA-Lib's own arithmetic is inexact, this
engine is exact instead (see "Numerics").

State is a small value: the last 100 prices plus running accumulators. It
serialises to a JSON-able dict (floats round-trip exactly) so a stream split in two
with a save/restore between the halves gives the same output as one pass.

Numerics. Rolling variances never use sums of squares of price levels (they cancel
catastrophically and drift): Bollinger uses sums of ``price - shift`` where the shift
is a recent price, and every accumulator is recomputed exactly from the window every
``RECOMPUTE_EVERY`` ticks, which bounds drift. A window of identical prices gives a
standard deviation of exactly 0 (tracked by the run length of equal prices); tiny
negative variances from rounding are clamped to 0. TA-Lib computes E[x²]−E[x]² with
running sums and zeroes variances below 1e-14, so on prices near 1e-6 or 1e7 it is
the reference that is wrong; the tests check those cases against an exact two-pass
standard deviation instead.

Prices ≤ 0 are real for some futures. They never crash anything; a ratio-based field
(price_change_pct, momentum_10, volatility_20) is None for every tick whose formula
touches a non-positive price.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import pairwise
from typing import Any

FEATURE_FIELDS: tuple[str, ...] = (
    "sma_5", "sma_10", "sma_20", "ema_12", "ema_26", "rsi_14",
    "macd_line", "macd_signal", "macd_histogram",
    "bb_upper", "bb_middle", "bb_lower",
    "volatility_20", "momentum_10", "price_change", "price_change_pct",
    "lag_1", "lag_2", "lag_5",
)  # fmt: skip

WINDOW = 100  # prices kept per symbol (the original system's deque length)
RECOMPUTE_EVERY = 100  # ticks between exact recomputations of running sums
TA_EPSILON = 1e-14  # TA-Lib's TA_IS_ZERO threshold (used where TA-Lib uses it: RSI)
K12, K26, K9 = 2.0 / 13.0, 2.0 / 27.0, 2.0 / 10.0
MACD_START = 25  # TA-Lib starts both MACD EMAs at index slow-1, the fast one seeded from the 12 prices ending there
BB_N, VOL_N, RSI_N, MOM_N = 20, 20, 14, 10

_STATE_FIELDS = (
    "periods_per_year", "count", "prices", "run", "s5", "s10", "s20", "shift", "d1", "d2",
    "ema12", "ema26", "macd_fast", "macd_signal", "macd_seed", "gain", "loss",
    "r1", "r2", "bad_returns", "vol_annualiser",
)  # fmt: skip


class IndicatorState:
    """Everything one symbol's indicators need, bounded in size (≤ 100 prices + scalars)."""

    __slots__ = _STATE_FIELDS

    def __init__(self, periods_per_year: float = 252.0) -> None:
        self.periods_per_year = float(periods_per_year)
        self.vol_annualiser = math.sqrt(self.periods_per_year)
        self.count = 0  # ticks seen
        self.prices: deque[float] = deque(maxlen=WINDOW)
        self.run = 0  # how many trailing prices are equal to the last one
        self.s5 = self.s10 = self.s20 = 0.0  # running sums of the last 5/10/20 prices
        self.shift = 0.0  # Bollinger shift K
        self.d1 = self.d2 = 0.0  # Σ(p−K), Σ(p−K)² over the last 20 prices
        self.ema12: float | None = None
        self.ema26: float | None = None
        self.macd_fast: float | None = None  # MACD's own fast EMA (TA-Lib seeding)
        self.macd_signal: float | None = None
        self.macd_seed = 0.0  # Σ of the first 9 MACD values (signal seed)
        self.gain = self.loss = 0.0  # Wilder averages (sums during warm-up)
        self.r1 = self.r2 = 0.0  # Σr, Σr² of the last 20 simple returns (valid ones)
        self.bad_returns = 0  # returns in that window touching a price ≤ 0

    @property
    def window_length(self) -> int:
        """How many prices the state holds (≤ 100)."""
        return len(self.prices)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy; floats survive ``json`` exactly."""
        data = {name: getattr(self, name) for name in _STATE_FIELDS if name != "vol_annualiser"}
        data["prices"] = list(self.prices)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndicatorState:
        state = cls(data["periods_per_year"])
        for name in _STATE_FIELDS:
            if name not in ("vol_annualiser", "periods_per_year", "prices"):
                setattr(state, name, data[name])
        state.prices = deque(data["prices"], maxlen=WINDOW)
        return state

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndicatorState) and self.to_dict() == other.to_dict()


def step(state: IndicatorState, price: float) -> tuple[IndicatorState, dict[str, float | None]]:
    """Advance ``state`` by one price; returns the (same, mutated) state and this tick's features."""
    prices = state.prices
    prev = prices[-1] if prices else None
    i = state.count  # 0-based index of this tick
    _push(state, price, prev)
    if i > 0 and i % RECOMPUTE_EVERY == 0:
        _recompute(state)
    state.count = i + 1
    features = dict.fromkeys(FEATURE_FIELDS)
    _averages(state, price, i, features)
    _macd(state, price, i, features)
    _rsi(state, price, prev, i, features)
    _bands_and_volatility(state, i, features)
    _changes(state, price, prev, i, features)
    return state, features


def _push(state: IndicatorState, price: float, prev: float | None) -> None:
    """Append the price and slide every running sum by one tick."""
    prices = state.prices
    n = len(prices)
    state.run = state.run + 1 if price == prev else 1
    state.s5 += price - (prices[-5] if n >= 5 else 0.0)
    state.s10 += price - (prices[-10] if n >= 10 else 0.0)
    state.s20 += price - (prices[-20] if n >= 20 else 0.0)
    x = price - state.shift
    state.d1 += x
    state.d2 += x * x
    if n >= BB_N:
        y = prices[-BB_N] - state.shift
        state.d1 -= y
        state.d2 -= y * y
    if prev is not None:
        _add_return(state, prev, price, +1)
    if n >= VOL_N + 1:  # the return (p[-21] → p[-20]) leaves the 20-return window
        _add_return(state, prices[-VOL_N - 1], prices[-VOL_N], -1)
    prices.append(price)


def _add_return(state: IndicatorState, before: float, after: float, sign: int) -> None:
    if before <= 0.0 or after <= 0.0:
        state.bad_returns += sign
        return
    r = (after - before) / before
    state.r1 += sign * r
    state.r2 += sign * r * r


def _recompute(state: IndicatorState) -> None:
    """Exact sums from the window (bounds the drift of running updates); re-centre the shift."""
    prices = list(state.prices)
    state.s5, state.s10, state.s20 = math.fsum(prices[-5:]), math.fsum(prices[-10:]), math.fsum(prices[-20:])
    state.shift = prices[-1]
    last20 = [p - state.shift for p in prices[-BB_N:]]
    state.d1, state.d2 = math.fsum(last20), math.fsum(x * x for x in last20)
    state.r1 = state.r2 = 0.0
    state.bad_returns = 0
    window = prices[-VOL_N - 1:]
    returns = []
    for before, after in pairwise(window):
        if before <= 0.0 or after <= 0.0:
            state.bad_returns += 1
        else:
            returns.append((after - before) / before)
    state.r1, state.r2 = math.fsum(returns), math.fsum(r * r for r in returns)


def _averages(state: IndicatorState, price: float, i: int, out: dict) -> None:
    if i >= 4:
        out["sma_5"] = state.s5 / 5.0
    if i >= 9:
        out["sma_10"] = state.s10 / 10.0
    if i >= 19:
        out["sma_20"] = state.s20 / 20.0
    if i == 11:
        state.ema12 = math.fsum(list(state.prices)[-12:]) / 12.0
    elif i > 11:
        state.ema12 = (price - state.ema12) * K12 + state.ema12
    if i == 25:
        state.ema26 = math.fsum(list(state.prices)[-26:]) / 26.0
    elif i > 25:
        state.ema26 = (price - state.ema26) * K26 + state.ema26
    out["ema_12"], out["ema_26"] = state.ema12, state.ema26


def _macd(state: IndicatorState, price: float, i: int, out: dict) -> None:
    """TA-Lib's MACD: both EMAs start at index 25; the fast one seeded by the 12 prices ending there."""
    if i < MACD_START:
        return
    if i == MACD_START:
        state.macd_fast = math.fsum(list(state.prices)[-12:]) / 12.0
    else:
        state.macd_fast = (price - state.macd_fast) * K12 + state.macd_fast
    line = state.macd_fast - state.ema26
    if i < MACD_START + 8:
        state.macd_seed += line
        return
    if i == MACD_START + 8:
        state.macd_signal = (state.macd_seed + line) / 9.0
    else:
        state.macd_signal = (line - state.macd_signal) * K9 + state.macd_signal
    out["macd_line"], out["macd_signal"] = line, state.macd_signal
    out["macd_histogram"] = line - state.macd_signal


def _rsi(state: IndicatorState, price: float, prev: float | None, i: int, out: dict) -> None:
    """Wilder's RSI as TA-Lib computes it: simple means of the first 14 moves, then smoothing."""
    if prev is None:
        return
    delta = price - prev
    if i <= RSI_N:
        if delta < 0:
            state.loss -= delta
        else:
            state.gain += delta
        if i < RSI_N:
            return
        state.gain /= RSI_N
        state.loss /= RSI_N
    else:
        state.gain *= RSI_N - 1
        state.loss *= RSI_N - 1
        if delta < 0:
            state.loss -= delta
        else:
            state.gain += delta
        state.gain /= RSI_N
        state.loss /= RSI_N
    total = state.gain + state.loss
    out["rsi_14"] = 100.0 * (state.gain / total) if not -TA_EPSILON < total < TA_EPSILON else 0.0


def _bands_and_volatility(state: IndicatorState, i: int, out: dict) -> None:
    if i >= BB_N - 1:
        mean = state.s20 / BB_N
        std = 0.0 if state.run >= BB_N else _std(state.d1, state.d2, BB_N)
        out["bb_upper"], out["bb_middle"], out["bb_lower"] = mean + 2.0 * std, mean, mean - 2.0 * std
    if i >= VOL_N and state.bad_returns == 0:
        std = 0.0 if state.run >= VOL_N + 1 else _std(state.r1, state.r2, VOL_N)
        out["volatility_20"] = std * state.vol_annualiser


def _std(sum1: float, sum2: float, n: int) -> float:
    """Population standard deviation from (shifted) sums, negative rounding clamped to 0."""
    mean = sum1 / n
    variance = sum2 / n - mean * mean
    return math.sqrt(variance) if variance > 0.0 else 0.0


def _changes(state: IndicatorState, price: float, prev: float | None, i: int, out: dict) -> None:
    prices = state.prices
    if prev is not None:
        out["price_change"] = price - prev
        out["lag_1"] = prev
        if prev > 0.0 and price > 0.0:
            out["price_change_pct"] = (price / prev - 1.0) * 100.0
    if i >= 2:
        out["lag_2"] = prices[-3]
    if i >= 5:
        out["lag_5"] = prices[-6]
    if i >= MOM_N:
        before = prices[-MOM_N - 1]
        if before > 0.0 and price > 0.0:
            out["momentum_10"] = (price - before) / before
