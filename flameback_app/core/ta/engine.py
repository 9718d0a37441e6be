"""The incremental indicator engine: ``step(state, price) -> (state, features)`` in O(1).

Pure Python, no Faust: the same code runs live (the indicator agent), offline (the
``features`` command) and in training. Reads nothing but its arguments; writes
nothing but the state object it is given.

Definitions follow TA-Lib (README, "Indicators"): after its warm-up every value equals TA-Lib's
batch function on the same series, and it is None exactly where TA-Lib gives NaN.

How it is built, and why:

* **Warm-up by batch, then O(1).** The first :data:`WARMUP` ticks (34: MACD's
  signal is the last field to become valid, at index 33) are computed from the
  kept prices exactly as TA-Lib does (seeds by simple means, then recurrences).
  From then on :func:`step` is one straight-line update of running values, with
  no per-tick allocation beyond the output dict: function calls and attribute
  look-ups dominate pure-Python cost, so the hot path is one function on locals.
* **Exact rolling variances.** No running sum of squares of price levels (it
  drifts and turns flat windows non-zero). Bollinger and volatility use sums of
  deviations from a shift ``K`` set near the window mean. Each update's rounding
  is at most ~3 ulp of the largest such sum since the last exact rebuild, so the
  sums are rebuilt exactly (two passes over the window, ``fsum``) when that
  largest sum exceeds :data:`ERROR_RATIO` × n·variance (after a jump, or a drift
  far from ``K``), and every :data:`RECOMPUTE_EVERY` ticks: the worst case stays
  below 256·3·2.2e-16·4096 ≈ 7e-10 of the variance (3.5e-10 of the std). The
  price sums are rebuilt too when the price falls :data:`LEVEL_DROP` × below the
  largest price still in them. A window of identical prices gives
  a standard deviation of exactly 0 (tracked by the run length of equal prices);
  tiny negative variances from rounding are clamped to 0.
* **Non-positive prices** are real for some futures: nothing divides by them.
  price_change_pct, momentum_10 and volatility_20 are None for every tick whose
  formula touches a price ≤ 0 (TA-Lib would return 0 or a sign-flipped ratio).

State is small: the last :data:`WINDOW` prices plus about twenty numbers; it
serialises to a JSON-able dict whose floats round-trip exactly, so a stream split
in two with a save/restore between the halves gives the same output as one pass.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

FEATURE_FIELDS: tuple[str, ...] = (
    "sma_5",
    "sma_10",
    "sma_20",
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd_line",
    "macd_signal",
    "macd_histogram",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "volatility_20",
    "momentum_10",
    "price_change",
    "price_change_pct",
    "lag_1",
    "lag_2",
    "lag_5",
)

STATE_VERSION = 2
DEFAULT_PERIODS_PER_YEAR = 252.0  # daily bars; FLAMEBACK_PERIODS_PER_YEAR sets it live, offline and in training
WARMUP = 34  # ticks until every field is valid (MACD signal: index 33)
WINDOW = WARMUP  # prices kept: the batch warm-up needs them all; afterwards 21 would do
RECOMPUTE_EVERY = 256  # ticks between unconditional exact rebuilds (bounds accumulated rounding)
ERROR_RATIO = 4096.0  # rebuild variance sums when (largest shifted sum) / (n·variance) exceeds this
LEVEL_DROP = 1024.0  # rebuild price sums when the price falls this far below the largest one summed
TA_EPSILON = 1e-14  # TA-Lib's TA_IS_ZERO threshold (RSI of a flat series is 0)
K12, K26, K9 = 2.0 / 13.0, 2.0 / 27.0, 2.0 / 10.0
BB_N, VOL_N, RSI_N, MOM_N = 20, 20, 14, 10
MACD_START = 25  # TA-Lib starts both MACD EMAs at index 25; the fast one is seeded by prices 14..25
SIGNAL_START = MACD_START + 8

# The running values, in the order they are kept in ``IndicatorState.values`` and serialised:
#   count   ticks seen                      run      trailing prices equal to the last one
#   s5 s10 s20   sums of the last 5/10/20 prices
#   level   largest |price| in s20 since the last rebuild (bounds its rounding error)
#   k d1 d2 d_peak   Bollinger shift near the 20-price mean; Σ(p−k), Σ(p−k)²; largest d2 since the rebuild
#   kr r1 r2 r_peak  the same for the valid simple returns among the last 20 (volatility)
#   bad     returns among the last 20 that touch a price ≤ 0
#   ema12 ema26   EMA(12), EMA(26) (EMA(26) is also MACD's slow EMA: TA-Lib seeds both alike)
#   fast signal   MACD's fast EMA (TA-Lib seeds it at index 25, later than EMA(12)) and EMA(9) signal
#   gain loss     Wilder's average gain and loss (RSI)
SCALARS: tuple[str, ...] = (
    "count",
    "run",
    "s5",
    "s10",
    "s20",
    "level",
    "k",
    "d1",
    "d2",
    "d_peak",
    "kr",
    "r1",
    "r2",
    "r_peak",
    "bad",
    "ema12",
    "ema26",
    "fast",
    "signal",
    "gain",
    "loss",
)
_INDEX = {name: i for i, name in enumerate(SCALARS)}
_SUMS = SCALARS[2:15]  # what _rebuilt_sums returns, in order


class IndicatorState:
    """Everything one symbol's indicators need: ≤ 34 prices and 21 numbers, whatever the stream length.

    The numbers live in one list (``values``, order :data:`SCALARS`) because the
    hot path unpacks and repacks them in two operations, far cheaper in CPython
    than twenty attribute reads and writes; ``state.<name>`` still reads them.
    """

    __slots__ = ("annualiser", "periods_per_year", "prices", "values")

    def __init__(self, periods_per_year: float = DEFAULT_PERIODS_PER_YEAR) -> None:
        self.periods_per_year = float(periods_per_year)
        self.annualiser = math.sqrt(self.periods_per_year)  # volatility_20 = per-tick std × this
        self.prices: deque[float] = deque(maxlen=WINDOW)
        self.values: list[Any] = [0, 0, *[0.0] * 12, 0, *[None] * 6]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[_INDEX[name]]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def window_length(self) -> int:
        """How many prices the state holds (≤ WINDOW)."""
        return len(self.prices)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy; ``json`` writes floats in a form that reads back exactly."""
        data: dict[str, Any] = {"version": STATE_VERSION, "periods_per_year": self.periods_per_year}
        data["prices"] = list(self.prices)
        data.update(zip(SCALARS, self.values, strict=True))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], periods_per_year: float | None = None) -> IndicatorState:
        """Rebuild a state from :meth:`to_dict` output; a foreign layout is a ValueError, not a guess.

        ``periods_per_year`` (the current setting) replaces the saved spacing when given:
        it only scales volatility_20 on output, no running value depends on it, so a
        worker restarted with another FLAMEBACK_PERIODS_PER_YEAR continues exactly
        with the new scale from its next tick.
        """
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"indicator state version {data.get('version')!r} is not {STATE_VERSION}")
        state = cls(data["periods_per_year"] if periods_per_year is None else periods_per_year)
        state.prices.extend(data["prices"])
        state.values = [data[name] for name in SCALARS]
        return state

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndicatorState) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"IndicatorState(count={self.count}, last={self.prices[-1] if self.prices else None})"


def step(state: IndicatorState, price: float) -> tuple[IndicatorState, dict[str, float | None]]:
    """Advance ``state`` by one price; returns the (same, mutated) state and this tick's features.

    Deliberately one long function over local variables: it runs once per tick per
    symbol, and in CPython each call or attribute access costs as much as the
    arithmetic. The first WARMUP ticks take the batch path, :func:`_warm_step`.
    """
    (
        i,
        run,
        s5,
        s10,
        s20,
        level,
        k,
        d1,
        d2,
        d_peak,
        kr,
        r1,
        r2,
        r_peak,
        bad,
        ema12,
        ema26,
        fast,
        signal,
        gain,
        loss,
    ) = state.values
    if i < WARMUP:
        return _warm_step(state, price)
    prices = state.prices
    prev, lag2, lag5, lag10, p20, p21 = prices[-1], prices[-2], prices[-5], prices[-10], prices[-20], prices[-21]
    prices.append(price)

    run = run + 1 if price == prev else 1
    s5 += price - lag5
    s10 += price - lag10
    s20 += price - p20
    abs_price = price if price >= 0.0 else -price
    if abs_price > level:  # noqa: PLR1730 - an if is cheaper than a max() call on the hot path
        level = abs_price
    x, y = price - k, p20 - k
    d1 += x - y
    d2 += x * x - y * y
    if d2 > d_peak:  # noqa: PLR1730 - an if is cheaper than a max() call on the hot path
        d_peak = d2
    if prev > 0.0 and price > 0.0:
        q = (price - prev) / prev
        change_pct = q * 100.0
        q -= kr
        r1 += q
        r2 += q * q
        if r2 > r_peak:  # noqa: PLR1730 - an if is cheaper than a max() call on the hot path
            r_peak = r2
    else:
        change_pct = None
        bad += 1
    if p21 > 0.0 and p20 > 0.0:
        q = (p20 - p21) / p21 - kr
        r1 -= q
        r2 -= q * q
    else:
        bad -= 1
    n_var = d2 - d1 * d1 / 20.0  # 20 × variance
    n_var_r = r2 - r1 * r1 / 20.0
    if (
        i % RECOMPUTE_EVERY == 0
        or level > LEVEL_DROP * abs_price
        or (run < BB_N and d_peak > ERROR_RATIO * n_var)
        or (run <= VOL_N and not bad and r_peak > ERROR_RATIO * n_var_r)
    ):
        s5, s10, s20, level, k, d1, d2, d_peak, kr, r1, r2, r_peak, bad = _rebuilt_sums(list(prices))
        n_var = d2 - d1 * d1 / 20.0
        n_var_r = r2 - r1 * r1 / 20.0

    ema12 = (price - ema12) * K12 + ema12
    ema26 = (price - ema26) * K26 + ema26
    fast = (price - fast) * K12 + fast
    line = fast - ema26
    signal = (line - signal) * K9 + signal
    move = price - prev
    if move < 0.0:  # TA-Lib's operation order: × 13, add the move, ÷ 14
        gain = gain * 13.0 / 14.0
        loss = (loss * 13.0 - move) / 14.0
    else:
        gain = (gain * 13.0 + move) / 14.0
        loss = loss * 13.0 / 14.0
    state.values = [
        i + 1,
        run,
        s5,
        s10,
        s20,
        level,
        k,
        d1,
        d2,
        d_peak,
        kr,
        r1,
        r2,
        r_peak,
        bad,
        ema12,
        ema26,
        fast,
        signal,
        gain,
        loss,
    ]

    total = gain + loss
    middle = s20 / 20.0
    band = 0.0 if run >= BB_N or n_var <= 0.0 else 2.0 * math.sqrt(n_var / 20.0)
    if bad:
        volatility = None
    elif run > VOL_N or n_var_r <= 0.0:
        volatility = 0.0
    else:
        volatility = math.sqrt(n_var_r / 20.0) * state.annualiser
    return state, {
        "sma_5": s5 / 5.0,
        "sma_10": s10 / 10.0,
        "sma_20": middle,
        "ema_12": ema12,
        "ema_26": ema26,
        "rsi_14": 0.0 if -TA_EPSILON < total < TA_EPSILON else 100.0 * (gain / total),
        "macd_line": line,
        "macd_signal": signal,
        "macd_histogram": line - signal,
        "bb_upper": middle + band,
        "bb_middle": middle,
        "bb_lower": middle - band,
        "volatility_20": volatility,
        "momentum_10": (price - lag10) / lag10 if lag10 > 0.0 and price > 0.0 else None,
        "price_change": move,
        "price_change_pct": change_pct,
        "lag_1": prev,
        "lag_2": lag2,
        "lag_5": lag5,
    }


def _rebuilt_sums(window: list[float]) -> tuple[Any, ...]:
    """Every running sum recomputed exactly from the window (two passes), shifts re-centred.

    Returns the values named by ``SCALARS[2:15]`` (s5 … bad), in that order.
    """
    last20 = window[-BB_N:]
    s20 = math.fsum(last20)
    k = s20 / len(last20)
    d1, d2 = _shifted_sums(last20, k)
    returns = [(b - a) / a for a, b in pairwise(window[-VOL_N - 1 :]) if a > 0.0 and b > 0.0]
    bad = min(len(window) - 1, VOL_N) - len(returns)
    kr = math.fsum(returns) / len(returns) if returns else 0.0
    r1, r2 = _shifted_sums(returns, kr)
    level = max(abs(p) for p in window[-VOL_N - 1 :])
    return math.fsum(window[-5:]), math.fsum(window[-10:]), s20, level, k, d1, d2, d2, kr, r1, r2, r2, bad


def _shifted_sums(values: list[float], shift: float) -> tuple[float, float]:
    deviations = [v - shift for v in values]
    return math.fsum(deviations), math.fsum(d * d for d in deviations)


def _warm_step(state: IndicatorState, price: float) -> tuple[IndicatorState, dict[str, float | None]]:
    """One of the first WARMUP ticks: every value from the kept prices, exactly as TA-Lib's batch code.

    Also leaves every running value where :func:`step` expects it when warm-up
    ends. Costs O(WARMUP) per tick, for WARMUP ticks per symbol.
    """
    state.prices.append(price)
    window = list(state.prices)
    acc = dict(zip(_SUMS, _rebuilt_sums(window), strict=True))
    acc["count"], acc["run"] = len(window), _trailing_run(window)
    out: dict[str, float | None] = dict.fromkeys(FEATURE_FIELDS)
    _warm_averages(window, acc, out)
    _warm_macd(window, acc, out)
    _warm_rsi(window, acc, out)
    _warm_bands(acc, state.annualiser, out)
    _warm_changes(window, out)
    state.values = [acc.get(name) for name in SCALARS]
    return state, out


def _trailing_run(window: list[float]) -> int:
    last, run = window[-1], 0
    for p in reversed(window):
        if p != last:
            break
        run += 1
    return run


def _sequential_sum(values: Iterable[float]) -> float:
    """Left-to-right float addition, as TA-Lib seeds its averages.

    Not the built-in ``sum``: from Python 3.12 on it compensates the rounding of
    exact ``float`` inputs (but not of float subclasses such as ``numpy.float64``),
    so its result would depend on the Python version and on the input's type — and
    a state restored from JSON (plain floats) would then continue differently from
    one pass over numpy prices. Not ``math.fsum`` either: TA-Lib adds in order, and
    a correctly rounded seed drifts a few ulp away from TA-Lib's at large price levels.
    """
    total = 0.0
    for value in values:
        total += value
    return total


def _ema_series(values: list[float], n: int, k: float, start: int) -> list[float]:
    """TA-Lib's EMA: seeded at ``start`` by the mean of the n values ending there, then the recurrence."""
    ema = _sequential_sum(values[start - n + 1 : start + 1]) / n
    series = [ema]
    for v in values[start + 1 :]:
        ema = (v - ema) * k + ema
        series.append(ema)
    return series


def _warm_averages(window: list[float], acc: dict[str, Any], out: dict[str, float | None]) -> None:
    i = len(window) - 1
    for name, n, total in (("sma_5", 5, acc["s5"]), ("sma_10", 10, acc["s10"]), ("sma_20", 20, acc["s20"])):
        if i >= n - 1:
            out[name] = total / n
    if i >= 11:
        acc["ema12"] = out["ema_12"] = _ema_series(window, 12, K12, 11)[-1]
    if i >= 25:
        acc["ema26"] = out["ema_26"] = _ema_series(window, 26, K26, 25)[-1]


def _warm_macd(window: list[float], acc: dict[str, Any], out: dict[str, float | None]) -> None:
    if len(window) <= MACD_START:
        return
    fast = _ema_series(window, 12, K12, MACD_START)
    slow = _ema_series(window, 26, K26, MACD_START)
    lines = [f - s for f, s in zip(fast, slow, strict=True)]
    acc["fast"] = fast[-1]
    if len(window) > SIGNAL_START:
        acc["signal"] = signal = _ema_series(lines, 9, K9, 8)[-1]
        out["macd_line"], out["macd_signal"], out["macd_histogram"] = lines[-1], signal, lines[-1] - signal


def _warm_rsi(window: list[float], acc: dict[str, Any], out: dict[str, float | None]) -> None:
    """TA-Lib's RSI: simple means of the first 14 moves, then Wilder's smoothing."""
    if len(window) <= RSI_N:
        return
    moves = [b - a for a, b in pairwise(window)]
    gain = _sequential_sum(m for m in moves[:RSI_N] if m >= 0.0) / RSI_N
    loss = -_sequential_sum(m for m in moves[:RSI_N] if m < 0.0) / RSI_N
    for move in moves[RSI_N:]:
        if move < 0.0:
            gain, loss = gain * 13.0 / 14.0, (loss * 13.0 - move) / 14.0
        else:
            gain, loss = (gain * 13.0 + move) / 14.0, loss * 13.0 / 14.0
    acc["gain"], acc["loss"] = gain, loss
    total = gain + loss
    out["rsi_14"] = 0.0 if -TA_EPSILON < total < TA_EPSILON else 100.0 * (gain / total)


def _warm_bands(acc: dict[str, Any], annualiser: float, out: dict[str, float | None]) -> None:
    i = acc["count"] - 1
    if i >= BB_N - 1:
        middle = acc["s20"] / BB_N
        std = 0.0 if acc["run"] >= BB_N else _std(acc["d1"], acc["d2"], BB_N)
        out["bb_upper"], out["bb_middle"], out["bb_lower"] = middle + 2.0 * std, middle, middle - 2.0 * std
    if i >= VOL_N and acc["bad"] == 0:
        std = 0.0 if acc["run"] > VOL_N else _std(acc["r1"], acc["r2"], VOL_N)
        out["volatility_20"] = std * annualiser


def _std(sum1: float, sum2: float, n: int) -> float:
    """Population standard deviation from shifted sums, negative rounding clamped to 0."""
    variance = (sum2 - sum1 * sum1 / n) / n
    return math.sqrt(variance) if variance > 0.0 else 0.0


def _warm_changes(window: list[float], out: dict[str, float | None]) -> None:
    price = window[-1]
    if len(window) > 1:
        prev = window[-2]
        out["price_change"], out["lag_1"] = price - prev, prev
        if prev > 0.0 and price > 0.0:
            out["price_change_pct"] = (price - prev) / prev * 100.0
    if len(window) > 2:
        out["lag_2"] = window[-3]
    if len(window) > 5:
        out["lag_5"] = window[-6]
    if len(window) > MOM_N:
        before = window[-MOM_N - 1]
        if before > 0.0 and price > 0.0:
            out["momentum_10"] = (price - before) / before
