"""Indicator state: bounded size, exact serialisation, resumable streams, non-positive prices.

The state lives in a Faust table as JSON (README, "Architecture"), so a save/restore anywhere in
a stream must be invisible in the output.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flameback_app.core.ta import FEATURE_FIELDS, IndicatorState, step

RATIO_FIELDS = ("momentum_10", "price_change_pct", "volatility_20")


def walk(n: int, start: float = 100.0, sigma: float = 0.02, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(start * np.exp(np.cumsum(rng.normal(0.0, sigma, n))))


def run(prices: list[float], state: IndicatorState | None = None) -> tuple[IndicatorState, list[dict]]:
    state = state or IndicatorState()
    rows = []
    for price in prices:
        state, features = step(state, price)
        rows.append(features)
    return state, rows


def serialised_size(state: IndicatorState) -> int:
    return len(json.dumps(state.to_dict()).encode())


@pytest.mark.parametrize(
    "prices",
    [
        pytest.param(walk(100_000, seed=1), id="100k-walk"),
        pytest.param(walk(5_000, start=1e15, sigma=0.3, seed=2), id="huge-volatile"),
        pytest.param([-(1.0 / 3.0) * (1 + i % 7) for i in range(5_000)], id="negative-long-reprs"),
    ],
)
def test_serialised_state_stays_under_4_kb(prices: list[float]) -> None:
    state, _ = run(prices)
    assert serialised_size(state) < 4096
    assert state.window_length <= 100


def test_state_size_does_not_grow_with_stream_length() -> None:
    state, _ = run(walk(1_000, seed=3))
    early = serialised_size(state)
    state, _ = run(walk(50_000, seed=4), state)
    assert serialised_size(state) <= early + 16  # only the tick counter's digits may grow


@pytest.mark.parametrize("length", [0, 1, 20, 33, 34, 35, 64, 65, 500])
def test_round_trip_is_exact_through_json(length: int) -> None:
    state, _ = run(walk(length, seed=5))
    data = state.to_dict()
    restored = IndicatorState.from_dict(json.loads(json.dumps(data)))
    assert restored.to_dict() == data
    assert restored == state


@pytest.mark.parametrize("split", [0, 1, 13, 14, 25, 33, 34, 35, 64, 200, 999])
def test_two_halves_through_json_equal_one_pass(split: int) -> None:
    prices = walk(1_000, seed=6)
    prices[300:330] = [prices[300]] * 30  # a flat stretch crossing a rebuild of the running sums
    _, one_pass = run(prices)
    first, head = run(prices[:split])
    resumed = IndicatorState.from_dict(json.loads(json.dumps(first.to_dict())))
    _, tail = run(prices[split:], resumed)
    assert head + tail == one_pass


@settings(max_examples=40, deadline=None)
@given(
    prices=st.lists(st.floats(-50.0, 150.0, allow_nan=False), min_size=0, max_size=120),
    split=st.integers(0, 120),
)
def test_any_split_of_any_stream_equals_one_pass(prices: list[float], split: int) -> None:
    _, one_pass = run(prices)
    first, head = run(prices[:split])
    _, tail = run(prices[split:], IndicatorState.from_dict(json.loads(json.dumps(first.to_dict()))))
    assert head + tail == one_pass


def test_periods_per_year_scales_volatility_and_survives_a_round_trip() -> None:
    prices = walk(60, seed=7)
    _, daily = run(prices)
    hourly_state, hourly = run(prices, IndicatorState(periods_per_year=252 * 24))
    assert hourly[-1]["volatility_20"] == pytest.approx(daily[-1]["volatility_20"] * math.sqrt(24), rel=1e-12)
    assert IndicatorState.from_dict(hourly_state.to_dict()).periods_per_year == 252 * 24


def test_step_mutates_and_returns_the_same_state() -> None:
    state = IndicatorState()
    returned, _ = step(state, 1.0)
    assert returned is state and state.count == 1


def test_a_foreign_state_layout_is_refused() -> None:
    data = IndicatorState().to_dict()
    data["version"] = 1
    with pytest.raises(ValueError, match="version"):
        IndicatorState.from_dict(data)


def touching_non_positive(prices: list[float], i: int) -> dict[str, bool]:
    """Which ratio fields at tick i have a price ≤ 0 in their formula."""

    def bad(lo: int) -> bool:
        return any(p <= 0 for p in prices[max(lo, 0) : i + 1])

    return {
        "price_change_pct": bad(i - 1),
        "momentum_10": prices[i] <= 0 or (i >= 10 and prices[i - 10] <= 0),
        "volatility_20": bad(i - 20),
    }


@pytest.mark.parametrize(
    "prices",
    [
        pytest.param([10.0 - 0.25 * i for i in range(120)] + [-20.0 + 0.5 * i for i in range(120)], id="through-zero"),
        pytest.param(walk(60, seed=8) + [0.0] * 3 + walk(60, seed=9), id="zero-gap"),
        pytest.param([-5.0 - i % 3 for i in range(80)], id="all-negative"),
        pytest.param([0.0] * 60, id="all-zero"),
    ],
)
def test_non_positive_prices_null_exactly_the_ratio_fields_they_touch(prices, reference, run_engine) -> None:
    got = run_engine(prices)
    want = reference(prices)
    for i in range(len(prices)):
        touched = touching_non_positive(prices, i)
        for name in RATIO_FIELDS:
            valid_by_warm_up = not math.isnan(want[name][i]) if name != "volatility_20" else i >= 20
            assert math.isnan(got[name][i]) == (touched[name] or not valid_by_warm_up), (name, i)
    for name in FEATURE_FIELDS:
        if name not in RATIO_FIELDS:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-9, err_msg=name)
