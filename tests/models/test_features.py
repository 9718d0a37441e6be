"""ML features and the label: scale-free, backward-looking, the same for a batch of dicts and a frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.features import ML_FEATURES, add_labels, complete_rows, feature_frame, rows_to_matrix
from models.synthetic import indicator_frame, random_walk_prices


@pytest.fixture(scope="module")
def ticks() -> pd.DataFrame:
    return random_walk_prices(300, symbols=3, seed=11)


def test_features_at_tick_t_do_not_change_when_later_ticks_are_appended(ticks: pd.DataFrame) -> None:
    full = feature_frame(indicator_frame(ticks))
    prefix_len = len(ticks) // 2
    prefix = feature_frame(indicator_frame(ticks.iloc[:prefix_len]))
    pd.testing.assert_frame_equal(prefix, full.iloc[:prefix_len], check_exact=True)
    assert complete_rows(prefix.to_numpy()).sum() > 100  # the comparison covers real values, not only NaN


def test_features_are_scale_free(ticks: pd.DataFrame) -> None:
    scaled = ticks.assign(price=ticks["price"] * 1000.0)
    a, b = feature_frame(indicator_frame(ticks)), feature_frame(indicator_frame(scaled))
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-7, atol=1e-12, equal_nan=True)


def test_no_feature_is_a_raw_price_level() -> None:
    raw_levels = {
        "current_price",
        "sma_5",
        "sma_10",
        "sma_20",
        "ema_12",
        "ema_26",
        "macd_line",
        "macd_signal",
        "macd_histogram",
        "bb_upper",
        "bb_middle",
        "bb_lower",
        "price_change",
        "lag_1",
        "lag_2",
        "lag_5",
    }
    assert not raw_levels & set(ML_FEATURES)


def test_batch_of_row_dicts_equals_the_frame_path(ticks: pd.DataFrame) -> None:
    frame = indicator_frame(ticks)
    rows = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
    np.testing.assert_array_equal(rows_to_matrix(rows), feature_frame(frame).to_numpy())


def test_warm_up_rows_are_incomplete_and_later_rows_complete(ticks: pd.DataFrame) -> None:
    frame = indicator_frame(ticks)
    complete = complete_rows(feature_frame(frame).to_numpy())
    per_symbol_first = frame.assign(ok=complete).groupby("symbol").apply(lambda g: int(np.argmax(g["ok"].to_numpy())))
    assert set(per_symbol_first) == {33}  # MACD signal's warm-up (README, "Indicators") is the longest
    assert complete[frame.groupby("symbol").cumcount().to_numpy() >= 33].all()


def test_non_positive_prices_give_undefined_ratio_features_not_errors() -> None:
    row = {
        "current_price": -5.0,
        "rsi_14": 40.0,
        "macd_line": 0.1,
        "macd_histogram": 0.0,
        "bb_upper": 1.0,
        "bb_middle": 0.0,
        "bb_lower": -1.0,
        "volatility_20": 0.2,
        "momentum_10": 0.0,
        "lag_1": 1.0,
        "lag_2": -1.0,
        "lag_5": 2.0,
        "sma_5": 0.5,
        "sma_20": 0.1,
        "ema_12": 1.0,
        "ema_26": 1.0,
    }
    values = dict(zip(ML_FEATURES, rows_to_matrix([row])[0], strict=True))
    assert np.isnan(values["f_ret_1"]) and np.isnan(values["f_macd_rel"]) and np.isnan(values["f_bb_width"])
    assert values["f_rsi"] == pytest.approx(0.4)
    assert not complete_rows(rows_to_matrix([row]))[0]


def test_label_is_next_price_of_the_same_symbol_higher() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["A", "B", "A", "B", "A", "B"],
            "timestamp": pd.to_datetime(
                ["2020-01-01", "2020-01-01", "2020-01-02", "2020-01-02", "2020-01-03", "2020-01-03"]
            ),
            "current_price": [10.0, 100.0, 11.0, 90.0, 11.0, 95.0],
        }
    )
    out = add_labels(frame.sample(frac=1.0, random_state=3))  # any row order in
    labels = out.set_index(["symbol", out["timestamp"].dt.day])["label"]
    assert labels[("A", 1)] == 1.0 and labels[("A", 2)] == 0.0  # up; flat counts as not higher
    assert labels[("B", 1)] == 0.0 and labels[("B", 2)] == 1.0
    assert np.isnan(labels[("A", 3)]) and np.isnan(labels[("B", 3)])  # last tick of a symbol: no label
