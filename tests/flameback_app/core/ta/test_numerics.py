"""Rolling standard deviations stay exact over long streams, across jumps, and are exactly 0 when flat.

The reference is ``statistics.pstdev``, which sums in exact rational arithmetic:
a true two-pass standard deviation, exactly 0 for identical values.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flameback_app.core.ta import IndicatorState, step

STREAM = 1_000_000
FLAT_EVERY, FLAT_LEN = 50_000, 30
JUMP_EVERY = 70_001


def long_stream() -> tuple[list[float], list[int], list[int]]:
    """A 1,000,000-tick random walk near 1e4 with 30-tick flat stretches and ×3 / ÷3 jumps."""
    rng = np.random.default_rng(2024)
    steps = rng.normal(0.0, 1e-3, STREAM)
    jumps = list(range(JUMP_EVERY, STREAM, JUMP_EVERY))
    steps[jumps] += np.log(3.0) * np.where(np.arange(len(jumps)) % 2 == 0, 1.0, -1.0)
    prices = (1e4 * np.exp(np.cumsum(steps))).tolist()
    flats = list(range(FLAT_EVERY, STREAM - FLAT_LEN, FLAT_EVERY))
    for start in flats:
        prices[start : start + FLAT_LEN] = [prices[start]] * FLAT_LEN
    return prices, flats, jumps


def test_million_tick_stream_bollinger_and_volatility_stay_exact() -> None:
    prices, flats, jumps = long_stream()
    sampled = set(range(20, STREAM, 997))
    for start in jumps + flats:
        sampled.update(range(start, start + 45))
    flat_bands = {start + k for start in flats for k in range(19, FLAT_LEN)}  # 20 equal prices
    flat_returns = {start + k for start in flats for k in range(20, FLAT_LEN)}  # 20 zero returns
    state = IndicatorState()
    checked = 0
    for i, price in enumerate(prices):
        state, features = step(state, price)
        if i in flat_bands:
            assert features["bb_upper"] == features["bb_middle"] == features["bb_lower"], i
        if i in flat_returns:
            assert features["volatility_20"] == 0.0, i
        if i in sampled:
            window = prices[i - 19 : i + 1]
            exact = statistics.pstdev(window)
            std = (features["bb_upper"] - features["bb_middle"]) / 2.0
            assert math.isclose(std, exact, rel_tol=1e-9), (i, std, exact)
            returns = [(b - a) / a for a, b in zip(prices[i - 20 : i], prices[i - 19 : i + 1], strict=True)]
            vol = statistics.pstdev(returns) * math.sqrt(252)
            assert math.isclose(features["volatility_20"], vol, rel_tol=1e-9, abs_tol=1e-15), (i, vol)
            checked += 1
    assert checked > 2_000


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(1e-3, 1e7), st.sampled_from([1.0, 0.1 * 3, 1e7, 123.456])),
        min_size=20,
        max_size=150,
    )
)
def test_bollinger_std_equals_exact_two_pass_on_any_window(prices: list[float]) -> None:
    """Wild jumps across ten decades: every band is the exact std (to 1e-9 plus the rounding of the addition)."""
    state = IndicatorState()
    for i, price in enumerate(prices):
        state, features = step(state, price)
        if i < 19:
            continue
        exact = statistics.pstdev(prices[i - 19 : i + 1])
        upper, middle = features["bb_upper"], features["bb_middle"]
        assert abs((upper - middle) - 2 * exact) <= 2e-9 * exact + 2 * math.ulp(upper), (i, upper - middle, 2 * exact)
        if len(set(prices[i - 19 : i + 1])) == 1:
            assert upper == middle == features["bb_lower"]
