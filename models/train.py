"""Walk-forward training and evaluation of the four models and five rules (the ``train`` command).

Reads a tick CSV through the live indicator engine
(:func:`flameback_app.core.offline.iter_feature_rows`, the one code path live, offline and
in training), or a frame of indicator rows (the worker's database history). Writes a
report (JSON, and a readable table on stderr) and a new artifact version
(:mod:`models.registry`).

Protocol (README, "Training protocol"): one pooled model per algorithm across symbols, each a
scikit-learn Pipeline whose scaler is fitted inside the fold. Distinct timestamps are
split in time: the first 40 % only ever train; the rest is cut into ``folds``
consecutive test blocks. For each block the training rows are those strictly earlier
(expanding window), minus every row whose label reaches into the block (purge: a
label needs the symbol's *next* price, which may lie days later) and minus the
``embargo`` distinct timestamps just before it. Nothing is fitted on data later than
what it predicts. The rules are scored on exactly the same test rows.

Calibration (``calibration``: FLAMEBACK_CALIBRATION or ``--calibration``; sigmoid,
isotonic or none): inside each fold the training side is itself split in time — the
classifier is fitted on its first 80 % of timestamps and P(up) is calibrated on the
last 20 %, with the same purge and embargo between the two — so the calibrator never
sees a test row nor a row whose label the classifier already knew. The final fit is
calibrated the same way on all rows. Saved models are then
``sklearn.calibration.CalibratedClassifierCV`` around a
``sklearn.frozen.FrozenEstimator`` of the Pipeline.

Tick spacing: ``periods_per_year`` (FLAMEBACK_PERIODS_PER_YEAR, or the command's flag)
annualises volatility_20 when features are computed from a file, annualises the
strategy check's Sharpe ratio, and is recorded in the saved manifest.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

from flameback_app.core.offline import iter_feature_rows
from models.columns import RULE_COLUMNS
from models.drift import DEFAULT_SAMPLE_ROWS, TrainingSample, draw_sample
from models.features import DEFAULT_PERIODS_PER_YEAR, ML_FEATURES, add_labels, feature_frame
from models.metrics import (
    call_metrics,
    coverage_by_share,
    coverage_by_threshold,
    equity_curves,
    naive_baselines,
    probability_scores,
    reliability_curve,
    strategy_check,
)
from models.registry import save_version
from models.rules import rule_frame
from models.user_models import UserModels

INITIAL_TRAIN_FRACTION = 0.4
CALIBRATION_METHODS = ("sigmoid", "isotonic", "none")
DEFAULT_CALIBRATION = "sigmoid"
CALIBRATION_FRACTION = 0.2  # the latest share of a training side's timestamps that calibrates P(up)
ABSTENTION_THRESHOLDS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2)
COVERAGE_SHARES = (1.0, 0.5, 0.2)
EQUITY_POINTS = 500  # points per equity curve kept in the report (the terminal draws them)
IMPORTANCE_ROWS = 5_000  # held-out rows sampled for permutation importance (bounds its cost)
IMPORTANCE_REPEATS = 3
IMPORTANCE_SCORING = "roc_auc"
Progress = Callable[[str], None]
ModelFactory = Callable[[], dict[str, Pipeline]]


def make_models(seed: int = 7, n_jobs: int = 2) -> dict[str, Pipeline]:
    """The four classifiers, each behind its own scaler (fitted inside each fold).

    ``n_jobs``: threads XGBoost and RandomForest may use (a worker's background
    retraining passes FLAMEBACK_TRAINING_THREADS, so it leaves cores to the live path).

    Sized so that five folds plus the final fit on ~190,000 rows stay well under 5
    minutes on 2 cores even while the machine is shared (RandomForest and AdaBoost,
    single-threaded tree building, dominate); more capacity only fits more noise on
    daily direction.
    """

    def pipe(model: Any) -> Pipeline:
        return Pipeline([("scale", StandardScaler()), ("model", model)])

    return {
        "XGBoost": pipe(
            XGBClassifier(
                n_estimators=150,
                max_depth=3,
                learning_rate=0.05,
                subsample=0.8,
                colsample_bytree=0.8,
                tree_method="hist",
                n_jobs=n_jobs,
                random_state=seed,
                eval_metric="logloss",
            )
        ),
        "RandomForest": pipe(
            RandomForestClassifier(
                n_estimators=50, max_depth=8, min_samples_leaf=100, max_samples=0.3, n_jobs=n_jobs, random_state=seed
            )
        ),
        "AdaBoost": pipe(AdaBoostClassifier(n_estimators=25, learning_rate=1.0, random_state=seed)),
        "LogisticReg": pipe(LogisticRegression(C=1.0, max_iter=1000)),
    }


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Labels, ML features, rule calls and helpers, for rows that have a label and every ML feature.

    Rows come back sorted by (timestamp, symbol), timestamps as UTC (naive ones are read as UTC). ``next_ts`` is when the label is
    known (the symbol's next tick); ``last_move_up`` feeds the naive baseline.
    """
    data = add_labels(frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True)))
    features = feature_frame(data)
    data[list(ML_FEATURES)] = features
    data["next_ts"] = data.groupby("symbol", sort=False)["timestamp"].shift(-1)
    keep = data["label"].notna() & features.notna().all(axis=1)
    data = data[keep].reset_index(drop=True)
    data[list(RULE_COLUMNS)] = rule_frame(data)
    data["last_move_up"] = (data["f_ret_1"] > 0).astype(float)
    return data


@dataclass(frozen=True)
class Fold:
    """Row positions of one walk-forward step (into the prepared frame)."""

    train: np.ndarray
    test: np.ndarray
    test_start: Any
    test_end: Any
    embargo_start: Any  # training rows are strictly earlier than this timestamp


def walk_forward_splits(timestamps: np.ndarray, next_timestamps: np.ndarray, folds: int, embargo: int) -> list[Fold]:
    """Expanding-window folds in time order, purged (label inside the test block) and embargoed."""
    dates = np.unique(timestamps)
    first_test = int(len(dates) * INITIAL_TRAIN_FRACTION)
    if folds < 1 or first_test - embargo < 1:
        raise ValueError(f"{len(dates)} distinct timestamps are too few for {folds} folds with embargo {embargo}")
    bounds = np.linspace(first_test, len(dates), folds + 1).astype(int)
    return [
        _purged_block(dates, timestamps, next_timestamps, start, end, embargo)
        for start, end in itertools.pairwise(bounds)
    ]


def _purged_block(
    dates: np.ndarray, timestamps: np.ndarray, next_timestamps: np.ndarray, start: int, end: int, embargo: int
) -> Fold:
    """Test rows on ``dates[start:end]``; training rows earlier, purged and embargoed."""
    test_start, test_end, embargo_start = dates[start], dates[end - 1], dates[start - embargo]
    train = (timestamps < embargo_start) & (next_timestamps < test_start)
    test = (timestamps >= test_start) & (timestamps <= test_end)
    return Fold(np.flatnonzero(train), np.flatnonzero(test), test_start, test_end, embargo_start)


def calibration_split(timestamps: np.ndarray, next_timestamps: np.ndarray, embargo: int) -> Fold:
    """Split training rows in time: ``train`` fits the classifier, ``test`` (the latest timestamps) calibrates it.

    The same purge and embargo as the walk-forward: a calibration row never has a
    label the classifier was fitted on, so the calibrator sees honest out-of-sample
    probabilities (the reason calibration needs held-out rows at all).
    """
    dates = np.unique(timestamps)
    start = int(len(dates) * (1.0 - CALIBRATION_FRACTION))
    if start - embargo < 1 or start >= len(dates):
        raise ValueError(f"{len(dates)} distinct training timestamps are too few to calibrate with embargo {embargo}")
    return _purged_block(dates, timestamps, next_timestamps, start, len(dates), embargo)


def fit_calibrated(
    model: Pipeline, rows: pd.DataFrame, features: Sequence[str], calibration: str, embargo: int
) -> tuple[Any, Pipeline]:
    """``model`` fitted on ``rows`` and calibrated on their latest part; returns (calibrated, uncalibrated).

    ``calibration`` "none": fitted on every row, and both are the same object.
    """
    x, y = rows[list(features)].to_numpy(), rows["label"].to_numpy()
    if calibration == "none":
        return model.fit(x, y), model
    if calibration not in CALIBRATION_METHODS:
        raise ValueError(f"calibration must be one of {', '.join(CALIBRATION_METHODS)}, got {calibration!r}")
    split = calibration_split(_utc_ns(rows["timestamp"]), _utc_ns(rows["next_ts"]), embargo)
    model.fit(x[split.train], y[split.train])
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method=calibration)
    return calibrated.fit(x[split.test], y[split.test]), model


def _utc_ns(timestamps: pd.Series) -> np.ndarray:
    """Tz-aware UTC timestamps as naive datetime64 values (fast to sort and compare)."""
    return timestamps.dt.tz_convert(None).to_numpy()


def _calls(values: pd.Series) -> np.ndarray:
    """UP → 1, DOWN → 0, anything else (NEUTRAL, None) → NaN (no call)."""
    return values.map({"UP": 1.0, "DOWN": 0.0}).astype(float).to_numpy()


def _span(rows: pd.DataFrame) -> dict[str, Any]:
    return {"n": len(rows), "start": str(rows["timestamp"].min()), "end": str(rows["timestamp"].max())}


@dataclass(frozen=True)
class Probabilities:
    """P(up) per model on some rows: calibrated (what is called and saved) and the classifier's own."""

    calibrated: dict[str, np.ndarray]
    uncalibrated: dict[str, np.ndarray]


def fresh_models(model_factory: ModelFactory, user: UserModels | None) -> dict[str, Any]:
    """The built-ins and the user's models still in the run, unfitted."""
    return {**model_factory(), **(user.build_all() if user else {})}


def _user_model_failed(user: UserModels | None, name: str, stage: str, exc: Exception) -> bool:
    """True when ``name`` is a user model (now left out, said in one line); a built-in's failure propagates."""
    return user is not None and user.failed(name, stage, exc)


def evaluate_fold(
    data: pd.DataFrame,
    fold: Fold,
    features: Sequence[str],
    model_factory: ModelFactory,
    calibration: str = DEFAULT_CALIBRATION,
    embargo: int = 5,
    user: UserModels | None = None,
    importance_rows: int = 0,
) -> tuple[dict, Probabilities]:
    """Fit fresh models on the fold's training rows (calibrated there too), score models and rules on its test rows.

    ``importance_rows`` > 0: also each model's permutation importance on (a sample of
    that many of) the test rows, in the result's ``feature_importance``.
    """
    train, test = data.iloc[fold.train], data.iloc[fold.test]
    x_test, y_test = test[list(features)].to_numpy(), test["label"].to_numpy()
    signals, probabilities, importance = {}, Probabilities({}, {}), {}
    for name, model in fresh_models(model_factory, user).items():
        try:
            calibrated, uncalibrated = fit_calibrated(model, train, features, calibration, embargo)
            p_up, raw = calibrated.predict_proba(x_test)[:, 1], uncalibrated.predict_proba(x_test)[:, 1]
        except Exception as exc:
            if not _user_model_failed(user, name, "fit or predict_proba", exc):
                raise
            continue
        probabilities.calibrated[name] = p_up
        probabilities.uncalibrated[name] = raw
        signals[name] = call_metrics((p_up > 0.5).astype(float), y_test, p_up)
        if importance_rows:
            one_thread(uncalibrated)  # hundreds of small predictions: thread start-up and spin cost more than they save
            importance[name] = held_out_importance(calibrated, x_test, y_test, features, importance_rows)
    for rule in RULE_COLUMNS:
        signals[rule] = call_metrics(_calls(test[rule]), y_test)
    result = {
        "train": _span(train),
        "test": _span(test),
        "embargo_start": str(fold.embargo_start),
        "signals": signals,
        "baselines": naive_baselines(y_test, test["last_move_up"].to_numpy()),
    }
    if importance_rows:
        result["feature_importance"] = {
            "method": "permutation",
            "scoring": IMPORTANCE_SCORING,
            "n_repeats": IMPORTANCE_REPEATS,
            "rows": min(importance_rows, len(y_test)),
            "test": _span(test),
            "models": importance,
        }
    return result, probabilities


def held_out_importance(
    model: Any, x: np.ndarray, y: np.ndarray, features: Sequence[str], max_rows: int
) -> dict[str, dict[str, float]]:
    """Permutation importance of a fitted model on held-out rows: how much its AUC drops when one feature is shuffled.

    Computed on rows the model never saw (a fold's test block), so a feature it merely
    memorised scores ~0; a sample of ``max_rows`` rows and a few repeats keep the cost
    to a few hundred predictions. Per feature: mean and standard deviation of the drop.
    """
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(y), size=min(max_rows, len(y)), replace=False))
    if len(set(y[rows])) < 2:
        return {}
    result = permutation_importance(
        model, x[rows], y[rows], scoring=IMPORTANCE_SCORING, n_repeats=IMPORTANCE_REPEATS, random_state=0, n_jobs=1
    )
    return {
        f: {"mean": float(m), "std": float(s)}
        for f, m, s in zip(features, result.importances_mean, result.importances_std, strict=True)
    }


def walk_forward(
    data: pd.DataFrame,
    *,
    folds: int,
    embargo: int,
    cost_bp: float,
    progress: Progress,
    features: Sequence[str] = ML_FEATURES,
    model_factory: ModelFactory = make_models,
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
    calibration: str = DEFAULT_CALIBRATION,
    user: UserModels | None = None,
    importance_rows: int = 0,
) -> dict:
    """The walk-forward report: per fold, and pooled over every test row (with the strategy check).

    ``user``: the user's models, scored exactly like the built-ins; one that fails in
    any fold is left out of the whole report (its earlier folds too), so every model
    in the report is scored on the same rows. ``importance_rows`` > 0: permutation
    importance of each model on the last fold's test block (the newest held-out rows),
    as the report's ``feature_importance``.
    """
    splits = walk_forward_splits(_utc_ns(data["timestamp"]), _utc_ns(data["next_ts"]), folds, embargo)
    fold_reports, probabilities, importance = [], [], None
    for k, fold in enumerate(splits, start=1):
        started = time.monotonic()
        report, p_up = evaluate_fold(
            data, fold, features, model_factory, calibration, embargo, user, importance_rows if k == len(splits) else 0
        )
        if "feature_importance" in report:
            importance = {"fold": k, **report.pop("feature_importance")}
        fold_reports.append({"fold": k, **report})
        probabilities.append(p_up)
        accs = " ".join(f"{m}={report['signals'][m]['accuracy']:.3f}" for m in p_up.calibrated)
        progress(
            f"fold {k}/{folds}: train {report['train']['n']} rows ..{report['train']['end'][:10]}, "
            f"test {report['test']['n']} rows {report['test']['start'][:10]}..{report['test']['end'][:10]}; "
            f"{accs} ({time.monotonic() - started:.1f}s)"
        )
    rows = data.iloc[np.concatenate([f.test for f in splits])].reset_index(drop=True)
    names = [m for m in probabilities[-1].calibrated if all(m in p.calibrated for p in probabilities)]
    pooled = {
        kind: {m: np.concatenate([getattr(p, kind)[m] for p in probabilities]) for m in names}
        for kind in ("calibrated", "uncalibrated")
    }
    report = pooled_report(rows, pooled["calibrated"], cost_bp, periods_per_year)
    report["calibration"] = calibration_comparison(
        rows["label"].to_numpy(), pooled["calibrated"], pooled["uncalibrated"], calibration
    )
    result = {"folds": fold_reports, "pooled": report}
    if importance is not None:
        result["feature_importance"] = importance
    return without_models(result, user.left_out if user else ())


def without_models(report: dict, names: Iterable[str]) -> dict:
    """``report`` with every figure of the models ``names`` removed (left-out user models), in place."""
    pooled = report["pooled"]
    sections = [f["signals"] for f in report.get("folds", [])]
    sections += [pooled.get(k, {}) for k in ("signals", "strategy", "reliability", "coverage")]
    sections.append(pooled.get("calibration", {}).get("models", {}))
    sections.append(report.get("feature_importance", {}).get("models", {}))
    for name in names:
        for section in sections:
            section.pop(name, None)
    return report


def calibration_comparison(
    labels: np.ndarray, calibrated: dict[str, np.ndarray], uncalibrated: dict[str, np.ndarray], method: str
) -> dict:
    """Brier and log loss per model, calibrated vs the same classifier's own P(up), on the same test rows."""
    return {
        "method": method,
        "models": {
            m: {
                "calibrated": probability_scores(calibrated[m], labels),
                "uncalibrated": probability_scores(uncalibrated[m], labels),
            }
            for m in calibrated
        },
    }


def pooled_report(
    rows: pd.DataFrame,
    probabilities: dict[str, np.ndarray],
    cost_bp: float,
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
) -> dict:
    """Metrics and the strategy check over the given rows (also what ``evaluate`` reports).

    Per model also a reliability curve and how accuracy changes when only confident
    calls are made (``coverage``: by threshold on |P(up) − 0.5|, and by share of rows).
    """
    y = rows["label"].to_numpy()
    signals, strategy, reliability, coverage, positions = {}, {}, {}, {}, {}
    for m, p_up in probabilities.items():
        calls = (p_up > 0.5).astype(float)
        signals[m] = call_metrics(calls, y, p_up)
        positions[m] = calls * 2.0 - 1.0
        strategy[m] = strategy_check(rows, positions[m], cost_bp, periods_per_year)
        reliability[m] = reliability_curve(p_up, y)
        coverage[m] = {
            "by_threshold": coverage_by_threshold(p_up, y, ABSTENTION_THRESHOLDS),
            "by_share": coverage_by_share(p_up, y, COVERAGE_SHARES),
        }
    for rule in RULE_COLUMNS:
        calls = _calls(rows[rule])
        signals[rule] = call_metrics(calls, y)
        positions[rule] = np.nan_to_num(calls * 2.0 - 1.0, nan=0.0)
        strategy[rule] = strategy_check(rows, positions[rule], cost_bp, periods_per_year)
    positions["buy_and_hold"] = np.ones(len(rows))
    strategy["buy_and_hold"] = strategy_check(rows, positions["buy_and_hold"], cost_bp, periods_per_year)
    return {
        "test": _span(rows),
        "signals": signals,
        "strategy": strategy,
        "cost_bp": cost_bp,
        "equity_curves": equity_curves(rows, positions, cost_bp, EQUITY_POINTS),
        "baselines": naive_baselines(y, rows["last_move_up"].to_numpy()),
        "reliability": reliability,
        "coverage": coverage,
    }


def fit_final(
    data: pd.DataFrame,
    model_factory: ModelFactory = make_models,
    calibration: str = DEFAULT_CALIBRATION,
    embargo: int = 5,
    features: Sequence[str] = ML_FEATURES,
    user: UserModels | None = None,
) -> dict[str, Any]:
    """Every model fitted (and calibrated) on the prepared rows as in a fold, set to predict on one thread (saved).

    Live batches are small (hundreds of rows) and run in the worker's executor on a
    shared machine: fanning each ``predict_proba`` out to 2 threads cost more than it
    saved (RandomForest: 25 ms vs 7 ms per 500-row batch, measured with bench/inference.py).
    """
    models = {}
    for name, model in fresh_models(model_factory, user).items():
        try:
            models[name], pipeline = fit_calibrated(model, data, features, calibration, embargo)
        except Exception as exc:
            if not _user_model_failed(user, name, "final fit", exc):
                raise
            continue
        one_thread(pipeline)
    return models


def one_thread(pipeline: Pipeline) -> None:
    """Make a fitted Pipeline's estimator predict on one thread (where it has ``n_jobs``)."""
    estimator = pipeline.named_steps["model"] if isinstance(pipeline, Pipeline) else pipeline
    if "n_jobs" in estimator.get_params():
        estimator.set_params(n_jobs=1)


def pipeline_of(model: Any) -> Pipeline:
    """The fitted Pipeline inside a saved model (calibrated or not)."""
    if isinstance(model, CalibratedClassifierCV):
        return model.calibrated_classifiers_[0].estimator.estimator
    return model


def train_and_save(
    frame: pd.DataFrame,
    models_dir: Path,
    *,
    folds: int = 5,
    embargo: int = 5,
    cost_bp: float = 2.0,
    progress: Progress | None = None,
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
    extra_trusted: Sequence[str] = (),
    calibration: str = DEFAULT_CALIBRATION,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    user_models: Mapping[str, Any] | None = None,
    importance_rows: int = IMPORTANCE_ROWS,
) -> Path:
    """Walk-forward report, then fit on everything and save a version; returns its directory.

    ``frame``: columns symbol, timestamp, current_price and the 19 indicators, rows in
    any order, their volatility_20 annualised with ``periods_per_year`` (recorded in
    the manifest). The report is saved as ``report.json`` in the version directory.
    ``extra_trusted``: FLAMEBACK_TRUSTED_MODEL_TYPES (:func:`models.registry.save_version`).
    ``calibration``: sigmoid, isotonic or none (FLAMEBACK_CALIBRATION).
    ``sample_rows``: training rows kept beside the manifest for the drift check (FLAMEBACK_DRIFT_SAMPLE_ROWS).
    ``user_models``: FLAMEBACK_USER_MODELS entries (:mod:`models.user_models`), trained beside the four.
    ``importance_rows``: held-out rows sampled for permutation importance (0: none computed).
    Raises ValueError when there is too little labelled history for the folds.
    """
    path, _ = train_with_report(
        frame,
        models_dir,
        folds=folds,
        embargo=embargo,
        cost_bp=cost_bp,
        progress=progress,
        periods_per_year=periods_per_year,
        extra_trusted=extra_trusted,
        calibration=calibration,
        sample_rows=sample_rows,
        user_models=user_models,
        importance_rows=importance_rows,
    )
    return path


def train_with_report(
    frame: pd.DataFrame,
    models_dir: Path,
    *,
    folds: int,
    embargo: int,
    cost_bp: float,
    progress: Progress | None,
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
    extra_trusted: Sequence[str] = (),
    calibration: str = DEFAULT_CALIBRATION,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    user_models: Mapping[str, Any] | None = None,
    model_factory: ModelFactory = make_models,
    importance_rows: int = IMPORTANCE_ROWS,
) -> tuple[Path, dict]:
    """:func:`train_and_save`, also returning the report (``model_factory``: the built-ins; tests pass cheaper ones).

    A user model left out (import, parameters, no predict_proba, fit, save) is said on
    one line through ``progress`` (else logged) and listed in the report's
    ``user_models_left_out``; the version is saved with the models that worked.
    """
    say = progress or (lambda _msg: None)
    user = UserModels(user_models, warn=progress)
    started = time.monotonic()
    data = prepare(frame)
    if data.empty or data["timestamp"].nunique() < max(folds * 4, embargo * 3):
        raise ValueError(
            f"not enough labelled history to train: {len(data)} complete rows on "
            f"{data['timestamp'].nunique()} distinct timestamps"
        )
    say(f"{len(data)} labelled rows, {data['symbol'].nunique()} symbols, {len(ML_FEATURES)} features")
    report = walk_forward(
        data,
        folds=folds,
        embargo=embargo,
        cost_bp=cost_bp,
        progress=say,
        periods_per_year=periods_per_year,
        calibration=calibration,
        user=user,
        model_factory=model_factory,
        importance_rows=importance_rows,
    )
    say(f"fitting the final models on all rows (calibration: {calibration})")
    models = fit_final(data, model_factory, calibration=calibration, embargo=embargo, user=user)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["settings"] = {
        "folds": folds,
        "embargo": embargo,
        "cost_bp": cost_bp,
        "features": list(ML_FEATURES),
        "initial_train_fraction": INITIAL_TRAIN_FRACTION,
        "periods_per_year": periods_per_year,
        "calibration": calibration,
        "calibration_fraction": CALIBRATION_FRACTION,
    }

    def manifest_fields(saved: list[str]) -> dict[str, Any]:
        """Metrics and user-model entries of the models actually saved (a user model may fail to save)."""
        summary = {
            m: {k: report["pooled"]["signals"][m].get(k) for k in ("accuracy", "auc", "brier", "n")}
            for m in saved
            if m in report["pooled"]["signals"]
        }
        return {
            "metrics": {
                "walk_forward_pooled": summary,
                "elapsed_s": report["elapsed_s"],
                "calibration": calibration,
                "feature_importance": report.get("feature_importance"),
            },
            "user_models": user.manifest_entries(saved),
        }

    path = save_version(
        models,
        models_dir,
        features=ML_FEATURES,
        span=_span(data),
        metrics={},
        periods_per_year=periods_per_year,
        extra_trusted=[*extra_trusted, *user.trusted_types],
        optional=user.names,
        on_left_out=user.leave_out,
        extra_manifest=manifest_fields,
        training_sample=_training_sample(data, sample_rows),
    )
    without_models(report, user.left_out)
    report["user_models_left_out"] = dict(user.left_out)
    report["version"] = path.name
    (path / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return path, report


def _training_sample(data: pd.DataFrame, rows: int) -> TrainingSample | None:
    """The drift check's reference (FLAMEBACK_DRIFT_SAMPLE_ROWS rows, with their symbols); None when set to 0."""
    return draw_sample(data[list(ML_FEATURES)].to_numpy(), data["symbol"].to_numpy(), rows) if rows > 0 else None


def format_table(report: dict) -> str:
    """Readable report: accuracy per fold and pooled, pooled detail, and the strategy check."""
    pooled = report["pooled"]
    return "\n\n".join(
        filter(
            None,
            [
                _fold_table(report.get("folds", [])),
                _pooled_table(pooled),
                _strategy_table(pooled),
                _calibration_table(pooled.get("calibration")),
                _reliability_table(pooled.get("reliability", {})),
                _coverage_table(pooled.get("coverage", {})),
            ],
        )
    )


def _fold_table(folds: list[dict]) -> str:
    if not folds:
        return ""
    header = f"{'accuracy':<17}" + "".join(f"{'fold ' + str(f['fold']):>8}" for f in folds)
    lines = ["walk-forward accuracy per fold (test blocks in time order)", header]
    for name in folds[0]["signals"]:
        lines.append(f"{name:<17}" + "".join(_f(f["signals"][name]["accuracy"], 8) for f in folds))
    for name in ("always_up", "same_as_last_move"):
        lines.append(f"{name:<17}" + "".join(_f(f["baselines"][name]["accuracy"], 8) for f in folds))
    lines.append(f"{'test rows':<17}" + "".join(f"{f['test']['n']:>8}" for f in folds))
    return "\n".join(lines)


def _pooled_table(pooled: dict) -> str:
    base = pooled["baselines"]["always_up"]
    test = pooled["test"]
    lines = [
        (
            f"pooled over {test['n']} test rows ({test['start'][:10]}..{test['end'][:10]}); "
            f"base rate (share of UP) {_f(base['base_rate'], 0)} {_ci(base['base_rate_ci95'])}"
        ),
        f"{'signal':<17}{'n':>8}{'coverage':>9}{'accuracy':>9}{'95% CI':>16}{'bal.acc':>8}{'AUC':>7}{'Brier':>7}",
    ]
    rows = [*pooled["signals"].items(), *pooled["baselines"].items()]
    for name, m in rows:
        lines.append(
            f"{name:<17}{m['n']:>8}{_f(m['coverage'], 9, '{:.1%}')}{_f(m['accuracy'], 9)}"
            f"{_ci(m['accuracy_ci95']):>16}{_f(m['balanced_accuracy'], 8)}{_f(m.get('auc'))}"
            f"{_f(m.get('brier'))}"
        )
    return "\n".join(lines)


def _strategy_table(pooled: dict) -> str:
    lines = [
        (
            f"strategy check: long UP / short DOWN / flat otherwise for the next tick, equal weight per "
            f"timestamp, {pooled['cost_bp']} bp per unit of position change"
        ),
        f"{'signal':<17}{'return':>10}{'Sharpe':>8}{'maxDD':>8}{'turnover':>9}",
    ]
    for name, s in pooled["strategy"].items():
        lines.append(
            f"{name:<17}{_f(s['total_return'], 10, '{:+.1%}')}{_f(s['sharpe'], 8, '{:+.2f}')}"
            f"{_f(s['max_drawdown'], 8, '{:.1%}')}{_f(s['turnover'], 9, '{:.3f}')}"
        )
    return "\n".join(lines)


def _calibration_table(calibration: dict | None) -> str:
    if not calibration:
        return ""
    lines = [
        (
            f"calibration of P(up): {calibration['method']} (fitted on the latest {CALIBRATION_FRACTION:.0%} of each "
            f"fold's training side); same test rows"
        ),
        f"{'model':<17}{'Brier cal.':>11}{'uncal.':>8}{'logloss cal.':>13}{'uncal.':>8}",
    ]
    for name, m in calibration["models"].items():
        cal, raw = m["calibrated"], m["uncalibrated"]
        lines.append(
            f"{name:<17}{_f(cal['brier'], 11, '{:.4f}')}{_f(raw['brier'], 8, '{:.4f}')}"
            f"{_f(cal['log_loss'], 13, '{:.4f}')}{_f(raw['log_loss'], 8, '{:.4f}')}"
        )
    return "\n".join(lines)


def _reliability_table(reliability: dict[str, list[dict]]) -> str:
    if not reliability:
        return ""
    lines = [
        "reliability: P(up) in equal-count bins vs the observed share of UP (calibrated: the two agree)",
        f"{'model':<17}{'P(up) range':>15}{'mean P':>8}{'up rate':>8}{'95% CI':>16}{'n':>8}",
    ]
    for name, curve in reliability.items():
        for k, b in enumerate(curve):
            lines.append(
                f"{name if k == 0 else '':<17}{b['p_low']:>7.3f}-{b['p_high']:<7.3f}{_f(b['mean_p_up'], 8)}"
                f"{_f(b['up_rate'], 8)}{_ci(b['up_rate_ci95']):>16}{b['n']:>8}"
            )
    return "\n".join(lines)


def _coverage_table(coverage: dict[str, dict]) -> str:
    if not coverage:
        return ""
    lines = [
        (
            "coverage-accuracy: call only when |P(up) - 0.5| > t (FLAMEBACK_ABSTAIN_BELOW live), "
            "and the most confident share of rows"
        ),
        f"{'model':<17}{'rule':>14}{'coverage':>9}{'n':>8}{'accuracy':>9}{'95% CI':>16}",
    ]
    for name, curves in coverage.items():
        rows = [(f"t > {c['threshold']:.3f}", c) for c in curves["by_threshold"]]
        rows += [(f"top {c['share']:.0%}", c) for c in curves["by_share"]]
        for k, (rule, c) in enumerate(rows):
            lines.append(
                f"{name if k == 0 else '':<17}{rule:>14}{_f(c['coverage'], 9, '{:.1%}')}{c['n']:>8}"
                f"{_f(c['accuracy'], 9)}{_ci(c['accuracy_ci95']):>16}"
            )
    return "\n".join(lines)


def _f(value: float | None, width: int = 7, fmt: str = "{:.3f}") -> str:
    return f"{'-' if value is None else fmt.format(value):>{width}}"


def _ci(ci: list) -> str:
    return "-" if ci[0] is None else f"[{ci[0]:.3f},{ci[1]:.3f}]"


def load_feature_frame(
    file: Path, progress: bool = True, periods_per_year: float = DEFAULT_PERIODS_PER_YEAR
) -> pd.DataFrame:
    """Indicator rows for every tick of a CSV, from the live engine at tick spacing ``periods_per_year``."""
    frame = pd.DataFrame(iter_feature_rows(file, progress=progress, periods_per_year=periods_per_year))
    if frame.empty:
        raise ValueError(f"{file}: no ticks")
    return frame


def history_until(frame: pd.DataFrame, until: str | None) -> pd.DataFrame:
    """Indicator rows stamped before ``until`` (an ISO date/time, UTC when naive); all rows when None.

    Indicators are causal, so cutting the computed rows equals computing them on a cut
    file: what ``train --until`` uses to replay history as if it ended then.
    """
    if until is None:
        return frame
    cut = pd.Timestamp(until)
    cut = cut.tz_convert("UTC") if cut.tzinfo else cut.tz_localize("UTC")
    kept = frame[pd.to_datetime(frame["timestamp"], utc=True) < cut]
    if kept.empty:
        raise ValueError(f"no ticks before --until {until}")
    return kept


def run_train_command(
    file: Path,
    out_dir: Path,
    *,
    report: Path | None,
    folds: int,
    embargo: int,
    cost_bp: float,
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
    extra_trusted: Sequence[str] = (),
    calibration: str = DEFAULT_CALIBRATION,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    user_models: Mapping[str, Any] | None = None,
    until: str | None = None,
) -> Path:
    """``faust -A flameback_app train FILE``: progress and report on stderr, JSON report, artifacts in ``out_dir``."""

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    frame = history_until(load_feature_frame(file, periods_per_year=periods_per_year), until)
    path, result = train_with_report(
        frame,
        out_dir,
        folds=folds,
        embargo=embargo,
        cost_bp=cost_bp,
        progress=say,
        periods_per_year=periods_per_year,
        extra_trusted=extra_trusted,
        calibration=calibration,
        sample_rows=sample_rows,
        user_models=user_models,
    )
    say(format_table(result))
    report_path = report or path / "report.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(result, indent=2, default=str))
    say(f"saved models version {path.name} in {path} ({result['elapsed_s']}s); report: {report_path}")
    return path
