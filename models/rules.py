"""The five rule signals (pure): RSI, MACD, momentum, price change, Bollinger Bands.

RSI > 50, MACD line > 0, momentum_10 > 0, price_change_pct > 0 → "UP", else "DOWN";
Bollinger: price above the upper band → "DOWN", below the lower → "UP", else
"NEUTRAL" — the original system's rules. While a rule's input is still in warm-up
(None) the rule says None (no signal) rather than a call made up from a default.
"""

from __future__ import annotations

from collections.abc import Mapping

RULES: tuple[str, ...] = ("RSI_Rule", "MACD_Rule", "Momentum_Rule", "PriceChange_Rule", "BB_Rule")
_THRESHOLDS = {"RSI_Rule": ("rsi_14", 50.0), "MACD_Rule": ("macd_line", 0.0),
               "Momentum_Rule": ("momentum_10", 0.0), "PriceChange_Rule": ("price_change_pct", 0.0)}  # fmt: skip


def _above(value: float | None, threshold: float) -> str | None:
    if value is None:
        return None
    return "UP" if value > threshold else "DOWN"


def bollinger_rule(price: float, upper: float | None, lower: float | None) -> str | None:
    if upper is None or lower is None:
        return None
    if price > upper:
        return "DOWN"
    if price < lower:
        return "UP"
    return "NEUTRAL"


def apply_rules(row: Mapping) -> dict[str, str | None]:
    """The five rule signals for one indicator row."""
    out = {name: _above(row.get(field), threshold) for name, (field, threshold) in _THRESHOLDS.items()}
    out["BB_Rule"] = bollinger_rule(row["current_price"], row.get("bb_upper"), row.get("bb_lower"))
    return out
