"""Evaluation figures (pure): classification metrics with intervals, naive baselines, a strategy check.

Reads explicit arrays of calls, outcomes and prices; writes nothing. The training
report, ``evaluate`` and the tests share these one definitions. Intervals are 95 %
Wilson score intervals of a proportion (accuracy, or the base rate).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, roc_auc_score

from models.features import DEFAULT_PERIODS_PER_YEAR

Z95 = 1.959963984540054


def wilson_interval(hits: int, n: int) -> tuple[float | None, float | None]:
    """95 % Wilson score interval of a proportion."""
    if n == 0:
        return None, None
    p = hits / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return centre - half, centre + half


def call_metrics(calls: np.ndarray, labels: np.ndarray, p_up: np.ndarray | None = None) -> dict[str, Any]:
    """Accuracy etc. of UP(1)/DOWN(0) calls; NaN calls (abstentions) are left out and counted."""
    made = ~np.isnan(calls)
    y, c = labels[made].astype(int), calls[made].astype(int)
    n = int(made.sum())
    hits = int((y == c).sum())
    low, high = wilson_interval(hits, n)
    out: dict[str, Any] = {
        "n": n, "coverage": n / len(calls) if len(calls) else None,
        "accuracy": hits / n if n else None, "accuracy_ci95": [low, high],
        "balanced_accuracy": float(balanced_accuracy_score(y, c)) if n and len(set(y)) > 1 else None,
        "base_rate": float(y.mean()) if n else None,
        "base_rate_ci95": list(wilson_interval(int(y.sum()), n)),
    }  # fmt: skip
    if p_up is not None and n and len(set(y)) > 1:
        p = p_up[made]
        out["auc"] = float(roc_auc_score(y, p))
        out["brier"] = float(brier_score_loss(y, p))
    return out


def naive_baselines(labels: np.ndarray, last_move_up: np.ndarray) -> dict[str, Any]:
    """Always-up, and "same direction as the last move", on the same rows."""
    return {
        "always_up": call_metrics(np.ones_like(labels, dtype=float), labels),
        "same_as_last_move": call_metrics(last_move_up.astype(float), labels),
    }


def strategy_check(frame: pd.DataFrame, positions: np.ndarray, cost_bp: float,
                   periods_per_year: float = DEFAULT_PERIODS_PER_YEAR) -> dict[str, Any]:  # fmt: skip
    """Long/short one unit per symbol for the next tick; equal-weight across symbols per timestamp.

    ``frame`` has symbol, timestamp, current_price, next_price (sorted by timestamp);
    ``positions`` is +1 (UP), −1 (DOWN) or 0 (no call). Costs ``cost_bp`` basis points
    per unit of position change.

    The Sharpe ratio is annualised with √``periods_per_year``, the same tick spacing
    (FLAMEBACK_PERIODS_PER_YEAR) that annualises volatility_20: each return here is one
    step of the timeline, i.e. one tick spacing, so with 1-minute bars √252 would
    understate a per-minute Sharpe's annual figure by √390. At the default (252, daily
    bars) nothing changes.
    """
    data = frame[["symbol", "timestamp"]].copy()
    data["pos"] = positions
    data["ret"] = frame["next_price"].to_numpy() / frame["current_price"].to_numpy() - 1.0
    data["change"] = data.groupby("symbol", sort=False)["pos"].diff().abs().fillna(data["pos"].abs())
    data["pnl"] = data["pos"] * data["ret"] - data["change"] * cost_bp / 1e4
    per_period = data.groupby("timestamp", sort=True)["pnl"].mean()
    equity = (1.0 + per_period).cumprod()
    drawdown = (equity / equity.cummax() - 1.0).min() if len(equity) else 0.0
    std = per_period.std(ddof=1)
    return {
        "total_return": float(equity.iloc[-1] - 1.0) if len(equity) else 0.0,
        "sharpe": float(per_period.mean() / std * math.sqrt(periods_per_year)) if std and std > 0 else None,
        "max_drawdown": float(drawdown),
        "turnover": float(data["change"].mean()),
        "periods": len(per_period),
    }
