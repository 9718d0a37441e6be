"""Every indicator against TA-Lib's batch functions: real data (every symbol) and generated series.

Reads ``../shared/data`` when present. The rule (README, "Indicators"): within 1e-9 relative
(absolute where |value| < 1) from the first valid tick, None exactly where TA-Lib
gives NaN.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flameback_app.core.ta import FEATURE_FIELDS, IndicatorState, step
from flameback_app.storage.db import FEATURE_COLUMNS

FIRST_VALID = {
    "sma_5": 4,
    "sma_10": 9,
    "sma_20": 19,
    "ema_12": 11,
    "ema_26": 25,
    "rsi_14": 14,
    "macd_line": 33,
    "macd_signal": 33,
    "macd_histogram": 33,
    "bb_upper": 19,
    "bb_middle": 19,
    "bb_lower": 19,
    "volatility_20": 20,
    "momentum_10": 10,
    "price_change": 1,
    "price_change_pct": 1,
    "lag_1": 1,
    "lag_2": 2,
    "lag_5": 5,
}


def random_walk(n: int, start: float = 100.0, sigma: float = 0.01, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(start * np.exp(np.cumsum(rng.normal(0.0, sigma, n))))


def test_feature_fields_are_the_database_columns() -> None:
    assert FEATURE_FIELDS == FEATURE_COLUMNS


def test_every_tick_returns_every_field_in_order() -> None:
    state = IndicatorState()
    for price in random_walk(60):
        state, features = step(state, price)
        assert tuple(features) == FEATURE_FIELDS


def test_first_valid_tick_is_the_design_table_and_talib(reference, run_engine) -> None:
    prices = random_walk(80, seed=3)
    got, want = run_engine(prices), reference(prices)
    for name, first in FIRST_VALID.items():
        assert int(np.flatnonzero(~np.isnan(want[name]))[0]) == first, f"TA-Lib {name}"
        assert int(np.flatnonzero(~np.isnan(got[name]))[0]) == first, f"engine {name}"


def test_every_symbol_of_the_real_file_matches_talib(real_series, reference, run_engine, assert_close) -> None:
    compared = 0
    for symbol, prices in real_series.items():
        try:
            figures = assert_close(run_engine(prices), reference(prices))
        except AssertionError as exc:
            raise AssertionError(f"{symbol}: {exc}") from None
        compared += sum(n for n, _, _ in figures.values())
    assert len(real_series) == 39 and compared > 3_500_000


@pytest.mark.parametrize(
    "prices",
    [
        pytest.param([100.0] * 80, id="flat"),
        pytest.param([0.1 * 3] * 80, id="flat-inexact-value"),
        pytest.param([100.0] * 40 + [150.0] * 60, id="single-jump-up"),
        pytest.param([150.0] * 40 + [100.0] + [150.0] * 40, id="single-dip"),
        pytest.param(random_walk(40, seed=1) + [random_walk(40, seed=1)[-1] * 3] * 50, id="walk-jump-flat"),
        pytest.param(random_walk(500, start=1e7, sigma=0.001, seed=2), id="level-1e7"),
        pytest.param(random_walk(500, start=1e7, sigma=1e-7, seed=2), id="level-1e7-tiny-moves"),
        pytest.param([float(v) for v in range(1, 120)], id="linear-trend"),
        pytest.param([100.0 + (-1) ** i for i in range(120)], id="alternating"),
        pytest.param(random_walk(33, seed=4), id="shorter-than-warm-up"),
        pytest.param(random_walk(1, seed=5), id="one-tick"),
    ],
)
def test_generated_series_match_talib(prices, reference, run_engine, assert_close) -> None:
    assert_close(run_engine(prices), reference(prices))


def test_tiny_prices_match_talib_and_an_exact_std(reference, run_engine, assert_close) -> None:
    """At 1e-6 an absolute 1e-9 check would pass anything, so price-level fields are checked relative to 1e-6."""
    prices = random_walk(300, start=1e-6, sigma=0.01, seed=6)
    got = run_engine(prices)
    assert_close(got, reference(prices), scale=1e-6)
    for i in range(19, len(prices)):
        exact = statistics.pstdev(prices[i - 19 : i + 1])
        assert math.isclose((got["bb_upper"][i] - got["bb_middle"][i]) / 2, exact, rel_tol=1e-9)


def test_rsi_of_a_flat_series_is_zero_as_in_talib(reference) -> None:
    state = IndicatorState()
    for price in [42.0] * 40:
        state, features = step(state, price)
    assert features["rsi_14"] == 0.0 == reference([42.0] * 40)["rsi_14"][-1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.floats(1.0, 1e6),
    sigma=st.sampled_from([1e-4, 1e-3, 1e-2, 0.05]),
    n=st.integers(1, 160),
    seed=st.integers(0, 2**32 - 1),
    flat_at=st.integers(0, 160),
    flat_len=st.integers(0, 40),
    jump=st.floats(0.2, 5.0),
)
def test_random_walks_with_flats_and_jumps_match_talib(
    reference, run_engine, assert_close, start, sigma, n, seed, flat_at, flat_len, jump
) -> None:
    prices = random_walk(n, start, sigma, seed)
    cut = min(flat_at, len(prices))
    prices = prices[:cut] + [prices[cut - 1] if cut else start] * flat_len + [p * jump for p in prices[cut:]]
    assert_close(run_engine(prices), reference(prices))
