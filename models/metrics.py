"""Evaluation figures (pure): classification metrics with intervals, naive baselines, a strategy check.

Reads explicit arrays of calls, outcomes and prices; writes nothing. The training
report, ``evaluate`` and the tests share these one definitions. Intervals are 95 %
Wilson score intervals of a proportion (accuracy, or the base rate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, log_loss, roc_auc_score

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
        "n": n,
        "coverage": n / len(calls) if len(calls) else None,
        "accuracy": hits / n if n else None,
        "accuracy_ci95": [low, high],
        "balanced_accuracy": float(balanced_accuracy_score(y, c)) if n and len(set(y)) > 1 else None,
        "base_rate": float(y.mean()) if n else None,
        "base_rate_ci95": list(wilson_interval(int(y.sum()), n)),
    }
    if p_up is not None and n and len(set(y)) > 1:
        p = p_up[made]
        out["auc"] = float(roc_auc_score(y, p))
        out["brier"] = float(brier_score_loss(y, p))
        out["log_loss"] = float(log_loss(y, p, labels=[0, 1]))
    return out


def probability_scores(p_up: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """Brier score and log loss of P(up): how good the probabilities are, not just the calls."""
    y = labels.astype(int)
    if not len(y):
        return {"brier": None, "log_loss": None}
    return {"brier": float(brier_score_loss(y, p_up)), "log_loss": float(log_loss(y, p_up, labels=[0, 1]))}


def reliability_curve(p_up: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Binned P(up) against the observed share of UP, with the rows per bin.

    Bins are quantiles of P(up) (each holds about the same number of rows), not equal
    widths: daily-direction models put nearly every probability within a few points
    of 0.5, where equal-width bins would leave one or two bins holding everything.
    A calibrated model has ``mean_p_up`` ≈ ``up_rate`` in every bin.
    """
    if not len(p_up):
        return []
    edges = np.unique(np.quantile(p_up, np.linspace(0.0, 1.0, bins + 1)))
    which = np.searchsorted(edges[1:-1], p_up, side="right")
    curve = []
    for k in range(len(edges[1:-1]) + 1):
        in_bin = which == k
        n = int(in_bin.sum())
        if n:
            ups = int(labels[in_bin].sum())
            curve.append(
                {
                    "p_low": float(p_up[in_bin].min()),
                    "p_high": float(p_up[in_bin].max()),
                    "mean_p_up": float(p_up[in_bin].mean()),
                    "up_rate": ups / n,
                    "up_rate_ci95": list(wilson_interval(ups, n)),
                    "n": n,
                }
            )
    return curve


def _confident_calls(p_up: np.ndarray, labels: np.ndarray, made: np.ndarray) -> dict[str, Any]:
    calls = np.where(made, (p_up > 0.5).astype(float), np.nan)
    m = call_metrics(calls, labels)
    return {k: m[k] for k in ("n", "coverage", "accuracy", "accuracy_ci95")}


def coverage_by_threshold(p_up: np.ndarray, labels: np.ndarray, thresholds: Sequence[float]) -> list[dict[str, Any]]:
    """Calling only when |P(up) − 0.5| > t, for each t: coverage and accuracy (Wilson 95 %).

    The same rule as live abstention (FLAMEBACK_ABSTAIN_BELOW): if confident calls are
    better, accuracy rises as coverage falls.
    """
    distance = np.abs(p_up - 0.5)
    return [{"threshold": float(t), **_confident_calls(p_up, labels, distance > t)} for t in thresholds]


def coverage_by_share(p_up: np.ndarray, labels: np.ndarray, shares: Sequence[float]) -> list[dict[str, Any]]:
    """Accuracy of the most confident ``share`` of rows (by |P(up) − 0.5|; ties keep row order).

    Comparable across models whose probabilities spread differently; ``threshold`` is
    the smallest |P(up) − 0.5| among the rows called.
    """
    distance = np.abs(p_up - 0.5)
    order = np.argsort(-distance, kind="stable")
    out = []
    for share in shares:
        k = math.ceil(share * len(p_up))
        made = np.zeros(len(p_up), dtype=bool)
        made[order[:k]] = True
        threshold = float(distance[order[k - 1]]) if k else None
        out.append({"share": float(share), "threshold": threshold, **_confident_calls(p_up, labels, made)})
    return out


def naive_baselines(labels: np.ndarray, last_move_up: np.ndarray) -> dict[str, Any]:
    """Always-up, and "same direction as the last move", on the same rows."""
    return {
        "always_up": call_metrics(np.ones_like(labels, dtype=float), labels),
        "same_as_last_move": call_metrics(last_move_up.astype(float), labels),
    }


def strategy_check(
    frame: pd.DataFrame, positions: np.ndarray, cost_bp: float, periods_per_year: float = DEFAULT_PERIODS_PER_YEAR
) -> dict[str, Any]:
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
    data, per_period = _period_returns(frame, positions, cost_bp)
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


def _period_returns(frame: pd.DataFrame, positions: np.ndarray, cost_bp: float) -> tuple[pd.DataFrame, pd.Series]:
    """(rows with position, change and P&L; the equal-weight P&L per timestamp, in time order)."""
    data = frame[["symbol", "timestamp"]].copy()
    data["pos"] = positions
    data["ret"] = frame["next_price"].to_numpy() / frame["current_price"].to_numpy() - 1.0
    data["change"] = data.groupby("symbol", sort=False)["pos"].diff().abs().fillna(data["pos"].abs())
    data["pnl"] = data["pos"] * data["ret"] - data["change"] * cost_bp / 1e4
    return data, data.groupby("timestamp", sort=True)["pnl"].mean()


def equity_curves(
    frame: pd.DataFrame, positions: dict[str, np.ndarray], cost_bp: float, max_points: int = 500
) -> dict[str, Any]:
    """The strategy check's equity (growth of 1) per signal, at ≤ ``max_points`` shared timestamps.

    Kept in the training report so the terminal can draw the curves without the
    training rows: every curve is taken at the same evenly spaced timestamps (the
    last one always included, so the end value equals ``total_return`` + 1).
    """
    curves = {name: (1.0 + _period_returns(frame, pos, cost_bp)[1]).cumprod() for name, pos in positions.items()}
    if not curves:
        return {"timestamp": [], "equity": {}}
    index = next(iter(curves.values())).index
    keep = np.unique(np.linspace(0, len(index) - 1, min(max_points, len(index))).round().astype(int))
    return {
        "timestamp": [str(t) for t in index[keep]],
        "equity": {name: [round(float(v), 6) for v in curve.to_numpy()[keep]] for name, curve in curves.items()},
    }
