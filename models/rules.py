"""The five rule signals (pure): RSI, MACD, momentum, price change, Bollinger Bands.

Reads indicator values (one row dict live, or whole frame columns in training and
``evaluate``); writes nothing. The original system's rules: RSI > 50, MACD line > 0,
momentum_10 > 0, price_change_pct > 0 → "UP", else "DOWN"; Bollinger: price above
the upper band → "DOWN", below the lower band → "UP", else "NEUTRAL".

Warm-up: while a rule's input is undefined (None, or NaN in a frame) the rule says
None — no signal — rather than a call made up from a default (``None > 50`` would
otherwise read as "DOWN"). None is never scored and never traded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from models.columns import RULE_COLUMNS

RULES: tuple[str, ...] = RULE_COLUMNS
THRESHOLDS: dict[str, tuple[str, float]] = {
    "RSI_Rule": ("rsi_14", 50.0),
    "MACD_Rule": ("macd_line", 0.0),
    "Momentum_Rule": ("momentum_10", 0.0),
    "PriceChange_Rule": ("price_change_pct", 0.0),
}


def _defined(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def threshold_rule(value: float | None, threshold: float) -> str | None:
    """ "UP" above the threshold, "DOWN" at or below it, None while undefined."""
    if value is None or not _defined(value):
        return None
    return "UP" if value > threshold else "DOWN"


def bollinger_rule(price: float | None, upper: float | None, lower: float | None) -> str | None:
    """Mean reversion: above the upper band → "DOWN", below the lower → "UP", else "NEUTRAL"."""
    if price is None or upper is None or lower is None or not (_defined(price) and _defined(upper) and _defined(lower)):
        return None
    if price > upper:
        return "DOWN"
    if price < lower:
        return "UP"
    return "NEUTRAL"


def apply_rules(row: Mapping[str, Any]) -> dict[str, str | None]:
    """The five rule signals for one indicator row."""
    out = {name: threshold_rule(row.get(field), threshold) for name, (field, threshold) in THRESHOLDS.items()}
    out["BB_Rule"] = bollinger_rule(row.get("current_price"), row.get("bb_upper"), row.get("bb_lower"))
    return out


def rule_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The five rule signals for every row of a frame (object columns; None where undefined)."""
    out = {}
    for name, (field, threshold) in THRESHOLDS.items():
        value = frame[field].to_numpy(dtype=float)
        out[name] = _label(np.isnan(value), value > threshold, "UP", "DOWN")
    price, upper, lower = (frame[c].to_numpy(dtype=float) for c in ("current_price", "bb_upper", "bb_lower"))
    undefined = np.isnan(price) | np.isnan(upper) | np.isnan(lower)
    bb = np.where(price > upper, "DOWN", np.where(price < lower, "UP", "NEUTRAL")).astype(object)
    bb[undefined] = None
    out["BB_Rule"] = bb
    return pd.DataFrame({name: pd.Series(calls, index=frame.index, dtype=object) for name, calls in out.items()})


def _label(undefined: np.ndarray, up: np.ndarray, yes: str, no: str) -> np.ndarray:
    calls = np.where(up, yes, no).astype(object)
    calls[undefined] = None
    return calls
