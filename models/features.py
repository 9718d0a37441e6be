"""Scale-free ML features and the label, from indicator rows (pure, no Faust).

Reads indicator rows (the engine's output: ``current_price`` + the 19 indicators of
:mod:`flameback_app.core.ta`), as a batch of row dicts (live) or as a frame (training,
``evaluate``); writes nothing. Never uses raw price levels, so one pooled model
serves symbols priced at 7 and at 20,000. A row with any feature undefined (warm-up,
non-positive prices) gets no ML prediction. Every feature of tick t is a function of
tick t's indicator row alone, which only looks backwards: appending later ticks
cannot change it (a unit test checks this).

Label: 1 if the symbol's next price is higher than the current one, else 0; the last
tick of each symbol has no label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

ML_FEATURES: tuple[str, ...] = (
    "f_rsi",
    "f_macd_rel",
    "f_macd_hist_rel",
    "f_bb_pct_b",
    "f_bb_width",
    "f_volatility",
    "f_momentum",
    "f_ret_1",
    "f_ret_2",
    "f_ret_5",
    "f_px_sma_5",
    "f_px_sma_20",
    "f_ema_ratio",
)  # prefixed so they never shadow the indicator columns they are derived from

DEFAULT_PERIODS_PER_YEAR = 252.0
"""Tick spacing (ticks per year) unless FLAMEBACK_PERIODS_PER_YEAR says otherwise: daily bars.

``f_volatility`` is the engine's volatility_20, annualised with √periods_per_year, so
models learn it on the spacing they were trained with; the registry records that
spacing in each manifest and the worker and ``evaluate`` warn when it differs. Kept
here, not imported from :mod:`flameback_app.core.ta` (which would import the Faust app).
"""

_INPUTS = (
    "current_price",
    "rsi_14",
    "macd_line",
    "macd_histogram",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "volatility_20",
    "momentum_10",
    "lag_1",
    "lag_2",
    "lag_5",
    "sma_5",
    "sma_20",
    "ema_12",
    "ema_26",
)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b − 1 where both are positive, else NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((a > 0) & (b > 0), a / b - 1.0, np.nan)


def feature_matrix(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """(n × len(ML_FEATURES)) float matrix; NaN where a feature is undefined."""
    c = {k: np.asarray(columns[k], dtype=float) for k in _INPUTS}
    p = c["current_price"]
    width = c["bb_upper"] - c["bb_lower"]
    with np.errstate(divide="ignore", invalid="ignore"):
        pos_price = np.where(p > 0, p, np.nan)
        pct_b = np.where(width > 0, (p - c["bb_lower"]) / width, np.where(width == 0, 0.5, np.nan))
        out = [
            c["rsi_14"] / 100.0,
            c["macd_line"] / pos_price,
            c["macd_histogram"] / pos_price,
            pct_b,
            np.where(c["bb_middle"] > 0, width / c["bb_middle"], np.nan),
            c["volatility_20"],
            c["momentum_10"],
            _ratio(p, c["lag_1"]),
            _ratio(p, c["lag_2"]),
            _ratio(p, c["lag_5"]),
            _ratio(p, c["sma_5"]),
            _ratio(p, c["sma_20"]),
            _ratio(c["ema_12"], c["ema_26"]),
        ]
    return np.column_stack(out)


def feature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The ML features of every row of an indicator frame (columns ``ML_FEATURES``, NaN where undefined)."""
    matrix = feature_matrix({k: frame[k].to_numpy(dtype=float) for k in _INPUTS})
    return pd.DataFrame(matrix, columns=list(ML_FEATURES), index=frame.index)


def rows_to_matrix(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The feature matrix for a batch of indicator row dicts (None → NaN)."""
    columns = {k: np.array([np.nan if r.get(k) is None else r[k] for r in rows], dtype=float) for k in _INPUTS}
    return feature_matrix(columns)


def complete_rows(matrix: np.ndarray) -> np.ndarray:
    """Boolean mask of rows where every feature is defined."""
    mask: np.ndarray = ~np.isnan(matrix).any(axis=1)
    return mask


def add_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort by (timestamp, symbol) and add ``next_price``, ``label`` (NaN for each symbol's last tick)."""
    out = frame.sort_values(["timestamp", "symbol"], kind="stable").reset_index(drop=True)
    out["next_price"] = out.groupby("symbol", sort=False)["current_price"].shift(-1)
    out["label"] = np.where(out["next_price"].isna(), np.nan, (out["next_price"] > out["current_price"]).astype(float))
    return out
