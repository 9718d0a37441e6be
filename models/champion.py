"""Champion / challenger: a retrained version goes live only if it is measurably better than the live one.

Protocol (README, "Model lifecycle"). The history's distinct timestamps are split in
time. The **challenge block** is the latest ``block_fraction`` of them, moved later
if needed so that it lies after the champion's training span: it starts more than
``embargo`` timestamps after the champion's last training row, and after every label
the champion could have seen (purge). The **challenger** is trained — with the full
walk-forward report, calibration and all, by :func:`models.train.train_with_report` —
on the rows before the block minus the same embargo (a row whose label needs a price
inside the embargo has none, so it drops out: the purge). Both versions then predict
the block, which neither was fitted on.

The decision is paired: every block row is scored for both versions (the metric,
averaged over the four models, "higher is better"), the per-row differences are
averaged per timestamp (rows of one timestamp move together across symbols, so the
timestamp is the independent unit), and a Student-t 95 % interval of the mean
difference is taken over timestamps. The challenger is promoted only when the
interval's lower end is above ``margin``; otherwise it is kept on disk and the
decision says rejected. With no champion yet, the first valid version is promoted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from models.decisions import METRICS, MIN_BLOCK_TIMESTAMPS, ChallengeSettings, Decision, NotEnoughNewHistory
from models.features import ML_FEATURES
from models.registry import ModelBundle, load_version, promote
from models.train import ModelFactory, make_models, prepare, train_with_report

__all__ = ["ChallengeSettings", "Decision", "NotEnoughNewHistory", "challenge", "decide", "paired_interval"]
CONFIDENCE = 0.95
EPSILON = 1e-12


@dataclass(frozen=True)
class PairedComparison:
    """Challenger minus champion on the same rows: both means, the mean difference and its paired interval."""

    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    n_rows: int
    n_timestamps: int


def row_scores(p_up: np.ndarray, labels: np.ndarray, metric: str) -> np.ndarray:
    """Each row's score for one model, higher is better: hit (0/1), minus squared error, or log-likelihood."""
    p_up, labels = np.asarray(p_up, dtype=float), np.asarray(labels, dtype=float)
    if metric == "accuracy":
        return ((p_up > 0.5) == (labels > 0.5)).astype(float)
    if metric == "brier":
        return -((p_up - labels) ** 2)
    if metric == "log_loss":
        p = np.clip(p_up, EPSILON, 1 - EPSILON)
        return labels * np.log(p) + (1 - labels) * np.log(1 - p)
    raise ValueError(f"champion metric must be one of {', '.join(METRICS)}, got {metric!r}")


def version_scores(models: Mapping[str, Any], x: np.ndarray, labels: np.ndarray, metric: str) -> np.ndarray:
    """Per-row score of a version: the mean over its models (a version goes live as a whole)."""
    per_model = [row_scores(model.predict_proba(x)[:, 1], labels, metric) for model in models.values()]
    return np.mean(per_model, axis=0)


def paired_interval(
    challenger: np.ndarray, champion: np.ndarray, timestamps: np.ndarray, confidence: float = CONFIDENCE
) -> PairedComparison:
    """Paired difference of two score arrays on the same rows, its t-interval over per-timestamp means."""
    diff = pd.Series(np.asarray(challenger, float) - np.asarray(champion, float)).groupby(np.asarray(timestamps)).mean()
    if len(diff) < 2:
        raise ValueError(f"a paired interval needs at least 2 timestamps, got {len(diff)}")
    if np.ptp(diff.to_numpy()) == 0:  # identical differences everywhere (e.g. the same model twice): no spread
        low = high = float(diff.iloc[0])
    else:
        low, high = stats.ttest_1samp(diff.to_numpy(), 0.0).confidence_interval(confidence)
    return PairedComparison(
        champion=float(np.mean(champion)),
        challenger=float(np.mean(challenger)),
        difference=float(diff.mean()),
        ci_low=float(low),
        ci_high=float(high),
        n_rows=len(challenger),
        n_timestamps=len(diff),
    )


def decide(comparison: PairedComparison, margin: float) -> tuple[bool, str]:
    """Promote only when the whole paired interval lies above ``margin``; the reason says which way and why."""
    c = comparison
    figures = (
        f"challenger {c.challenger:.4f} vs champion {c.champion:.4f}, difference {c.difference:+.4f} "
        f"95% CI [{c.ci_low:+.4f}, {c.ci_high:+.4f}] over {c.n_timestamps} timestamps ({c.n_rows} rows)"
    )
    if c.ci_low > margin:
        return True, f"better: {figures}, above the margin {margin:g}"
    return False, f"not better by the margin {margin:g}: {figures}"


@dataclass(frozen=True)
class ChallengeBlock:
    """Where the challenge block starts and ends, and where the challenger's training rows stop."""

    start: pd.Timestamp
    end: pd.Timestamp
    train_before: pd.Timestamp  # challenger training rows are strictly earlier (the embargo)


def challenge_block(
    data: pd.DataFrame, champion_end: pd.Timestamp, block_fraction: float, embargo: int
) -> ChallengeBlock:
    """The block over prepared rows: the latest ``block_fraction`` of timestamps, after the champion's span.

    Raises :class:`NotEnoughNewHistory` when fewer than :data:`MIN_BLOCK_TIMESTAMPS`
    timestamps would remain, or the challenger would have nothing to train on.
    """
    dates = np.sort(data["timestamp"].unique())
    seen = data.loc[data["timestamp"] <= champion_end, "next_ts"].max()  # the last label the champion knew
    after_champion = int(np.searchsorted(dates, champion_end, side="right")) + embargo
    if pd.notna(seen):
        after_champion = max(after_champion, int(np.searchsorted(dates, seen, side="right")))
    start = max(int(len(dates) * (1.0 - block_fraction)), after_champion)
    if len(dates) - start < MIN_BLOCK_TIMESTAMPS or start - embargo < 1:
        raise NotEnoughNewHistory(
            f"{max(len(dates) - start, 0)} timestamps lie after the champion's training span "
            f"(ends {champion_end}) and its embargo; a challenge needs "
            f"{MIN_BLOCK_TIMESTAMPS}"
        )
    return ChallengeBlock(pd.Timestamp(dates[start]), pd.Timestamp(dates[-1]), pd.Timestamp(dates[start - embargo]))


def span_end(bundle: ModelBundle) -> pd.Timestamp:
    """The last timestamp the champion was trained on (its manifest's span), as UTC."""
    end = pd.Timestamp(bundle.manifest["training_span"]["end"])
    return end.tz_convert("UTC") if end.tzinfo else end.tz_localize("UTC")


def challenge(
    frame: pd.DataFrame,
    models_dir: Path,
    champion: ModelBundle | None,
    settings: ChallengeSettings,
    model_factory: ModelFactory = make_models,
    progress: Any = None,
) -> Decision:
    """Train a challenger from ``frame`` (indicator rows) against ``champion``; promote it if it wins.

    Returns the decision (the caller records it). The challenger's version directory is
    kept either way. Raises :class:`NotEnoughNewHistory` (nothing trained) when the
    history does not reach far enough past the champion's span.
    """
    if settings.metric not in METRICS:
        raise ValueError(f"champion metric must be one of {', '.join(METRICS)}, got {settings.metric!r}")
    if champion is None:
        path = _train(frame, models_dir, settings, model_factory, progress)
        promote(models_dir, path.name)
        return Decision(
            path.name,
            None,
            "first",
            "no champion yet: the first valid version is promoted",
            decided_at=datetime.now(UTC),
        )
    data = prepare(frame)
    block = challenge_block(data, span_end(champion), settings.block_fraction, settings.embargo)
    timestamps = pd.to_datetime(frame["timestamp"], utc=True)
    path = _train(frame[timestamps < block.train_before], models_dir, settings, model_factory, progress)
    challenger = load_version(path, extra_trusted=settings.extra_trusted)
    rows = data[data["timestamp"] >= block.start]
    x, labels = rows[list(ML_FEATURES)].to_numpy(), rows["label"].to_numpy()
    comparison = paired_interval(
        version_scores(challenger.models, x, labels, settings.metric),
        version_scores(champion.models, x, labels, settings.metric),
        rows["timestamp"].to_numpy(),
    )
    better, reason = decide(comparison, settings.margin)
    if better:
        promote(models_dir, path.name)
    decision = Decision(
        path.name,
        champion.version,
        "promoted" if better else "rejected",
        reason,
        metric=settings.metric,
        champion_score=comparison.champion,
        challenger_score=comparison.challenger,
        ci_low=comparison.ci_low,
        ci_high=comparison.ci_high,
        margin=settings.margin,
        n_rows=comparison.n_rows,
        block_start=block.start.to_pydatetime(),
        block_end=block.end.to_pydatetime(),
        decided_at=datetime.now(UTC),
    )
    (path / "decision.json").write_text(json.dumps(decision.row(), indent=2, default=str))
    return decision


def _train(
    frame: pd.DataFrame, models_dir: Path, settings: ChallengeSettings, model_factory: ModelFactory, progress: Any
) -> Path:
    path, _ = train_with_report(
        frame,
        models_dir,
        folds=settings.folds,
        embargo=settings.embargo,
        cost_bp=settings.cost_bp,
        progress=progress,
        periods_per_year=settings.periods_per_year,
        extra_trusted=settings.extra_trusted,
        calibration=settings.calibration,
        sample_rows=settings.sample_rows,
        user_models=settings.user_models,
        model_factory=model_factory,
    )
    return path
