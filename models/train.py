"""Walk-forward training and evaluation of the four models and five rules (the ``train`` command).

Reads a tick CSV through the live indicator engine
(:func:`flameback_app.offline.iter_feature_rows`, the one code path live, offline and
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

Tick spacing: ``periods_per_year`` (FLAMEBACK_PERIODS_PER_YEAR, or the command's flag)
annualises volatility_20 when features are computed from a file, annualises the
strategy check's Sharpe ratio, and is recorded in the saved manifest.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

from flameback_app.offline import iter_feature_rows
from models.columns import MODEL_COLUMNS, RULE_COLUMNS
from models.features import DEFAULT_PERIODS_PER_YEAR, ML_FEATURES, add_labels, feature_frame
from models.metrics import call_metrics, naive_baselines, strategy_check
from models.registry import save_version
from models.rules import rule_frame

INITIAL_TRAIN_FRACTION = 0.4
Progress = Callable[[str], None]
ModelFactory = Callable[[], dict[str, Pipeline]]


def make_models(seed: int = 7) -> dict[str, Pipeline]:
    """The four classifiers, each behind its own scaler (fitted inside each fold).

    Sized so that five folds plus the final fit on ~190,000 rows stay well under 5
    minutes on 2 cores even while the machine is shared (RandomForest and AdaBoost,
    single-threaded tree building, dominate); more capacity only fits more noise on
    daily direction.
    """
    def pipe(model: Any) -> Pipeline:
        return Pipeline([("scale", StandardScaler()), ("model", model)])

    return {
        "XGBoost": pipe(XGBClassifier(n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8,
                                      colsample_bytree=0.8, tree_method="hist", n_jobs=2, random_state=seed,
                                      eval_metric="logloss")),
        "RandomForest": pipe(RandomForestClassifier(n_estimators=50, max_depth=8, min_samples_leaf=100,
                                                    max_samples=0.3, n_jobs=2, random_state=seed)),
        "AdaBoost": pipe(AdaBoostClassifier(n_estimators=25, learning_rate=1.0, random_state=seed)),
        "LogisticReg": pipe(LogisticRegression(C=1.0, max_iter=1000)),
    }  # fmt: skip


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


def walk_forward_splits(timestamps: np.ndarray, next_timestamps: np.ndarray, folds: int,
                        embargo: int) -> list[Fold]:  # fmt: skip
    """Expanding-window folds in time order, purged (label inside the test block) and embargoed."""
    dates = np.unique(timestamps)
    first_test = int(len(dates) * INITIAL_TRAIN_FRACTION)
    if folds < 1 or first_test - embargo < 1:
        raise ValueError(f"{len(dates)} distinct timestamps are too few for {folds} folds with embargo {embargo}")
    bounds = np.linspace(first_test, len(dates), folds + 1).astype(int)
    splits = []
    for start, end in itertools.pairwise(bounds):
        test_start, test_end, embargo_start = dates[start], dates[end - 1], dates[start - embargo]
        train = (timestamps < embargo_start) & (next_timestamps < test_start)
        test = (timestamps >= test_start) & (timestamps <= test_end)
        splits.append(Fold(np.flatnonzero(train), np.flatnonzero(test), test_start, test_end, embargo_start))
    return splits


def _utc_ns(timestamps: pd.Series) -> np.ndarray:
    """Tz-aware UTC timestamps as naive datetime64 values (fast to sort and compare)."""
    return timestamps.dt.tz_convert(None).to_numpy()


def _calls(values: pd.Series) -> np.ndarray:
    """UP → 1, DOWN → 0, anything else (NEUTRAL, None) → NaN (no call)."""
    return values.map({"UP": 1.0, "DOWN": 0.0}).astype(float).to_numpy()


def _span(rows: pd.DataFrame) -> dict[str, Any]:
    return {"n": len(rows), "start": str(rows["timestamp"].min()), "end": str(rows["timestamp"].max())}


def evaluate_fold(data: pd.DataFrame, fold: Fold, features: Sequence[str],
                  model_factory: ModelFactory) -> tuple[dict, dict[str, np.ndarray]]:  # fmt: skip
    """Fit fresh models on the fold's training rows, score models and rules on its test rows."""
    train, test = data.iloc[fold.train], data.iloc[fold.test]
    x_train, y_train = train[list(features)].to_numpy(), train["label"].to_numpy()
    x_test, y_test = test[list(features)].to_numpy(), test["label"].to_numpy()
    signals, probabilities = {}, {}
    for name, model in model_factory().items():
        model.fit(x_train, y_train)
        p_up = model.predict_proba(x_test)[:, 1]
        probabilities[name] = p_up
        signals[name] = call_metrics((p_up > 0.5).astype(float), y_test, p_up)
    for rule in RULE_COLUMNS:
        signals[rule] = call_metrics(_calls(test[rule]), y_test)
    result = {"train": _span(train), "test": _span(test), "embargo_start": str(fold.embargo_start),
              "signals": signals, "baselines": naive_baselines(y_test, test["last_move_up"].to_numpy())}  # fmt: skip
    return result, probabilities


def walk_forward(data: pd.DataFrame, *, folds: int, embargo: int, cost_bp: float, progress: Progress,
                 features: Sequence[str] = ML_FEATURES, model_factory: ModelFactory = make_models,
                 periods_per_year: float = DEFAULT_PERIODS_PER_YEAR) -> dict:  # fmt: skip
    """The walk-forward report: per fold, and pooled over every test row (with the strategy check)."""
    splits = walk_forward_splits(_utc_ns(data["timestamp"]), _utc_ns(data["next_ts"]), folds, embargo)
    fold_reports, probabilities = [], []
    for k, fold in enumerate(splits, start=1):
        started = time.monotonic()
        report, p_up = evaluate_fold(data, fold, features, model_factory)
        fold_reports.append({"fold": k, **report})
        probabilities.append(p_up)
        accs = " ".join(f"{m}={report['signals'][m]['accuracy']:.3f}" for m in p_up)
        progress(f"fold {k}/{folds}: train {report['train']['n']} rows ..{report['train']['end'][:10]}, "
                 f"test {report['test']['n']} rows {report['test']['start'][:10]}..{report['test']['end'][:10]}; "
                 f"{accs} ({time.monotonic() - started:.1f}s)")  # fmt: skip
    rows = data.iloc[np.concatenate([f.test for f in splits])].reset_index(drop=True)
    pooled_p = {m: np.concatenate([p[m] for p in probabilities]) for m in probabilities[0]}
    return {"folds": fold_reports, "pooled": pooled_report(rows, pooled_p, cost_bp, periods_per_year)}


def pooled_report(rows: pd.DataFrame, probabilities: dict[str, np.ndarray], cost_bp: float,
                  periods_per_year: float = DEFAULT_PERIODS_PER_YEAR) -> dict:  # fmt: skip
    """Metrics and the strategy check over the given rows (also what ``evaluate`` reports)."""
    y = rows["label"].to_numpy()
    signals, strategy = {}, {}
    for m, p_up in probabilities.items():
        calls = (p_up > 0.5).astype(float)
        signals[m] = call_metrics(calls, y, p_up)
        strategy[m] = strategy_check(rows, calls * 2.0 - 1.0, cost_bp, periods_per_year)
    for rule in RULE_COLUMNS:
        calls = _calls(rows[rule])
        signals[rule] = call_metrics(calls, y)
        strategy[rule] = strategy_check(rows, np.nan_to_num(calls * 2.0 - 1.0, nan=0.0), cost_bp, periods_per_year)
    strategy["buy_and_hold"] = strategy_check(rows, np.ones(len(rows)), cost_bp, periods_per_year)
    return {"test": _span(rows), "signals": signals, "strategy": strategy, "cost_bp": cost_bp,
            "baselines": naive_baselines(y, rows["last_move_up"].to_numpy())}  # fmt: skip


def fit_final(data: pd.DataFrame, model_factory: ModelFactory = make_models) -> dict[str, Pipeline]:
    """Every model fitted on every prepared row, then set to predict on one thread (what gets saved).

    Live batches are small (hundreds of rows) and run in the worker's executor on a
    shared machine: fanning each ``predict_proba`` out to 2 threads cost more than it
    saved (RandomForest: 25 ms vs 7 ms per 500-row batch, measured with bench/inference.py).
    """
    x, y = data[list(ML_FEATURES)].to_numpy(), data["label"].to_numpy()
    models = model_factory()
    for model in models.values():
        model.fit(x, y)
        if "n_jobs" in model.named_steps["model"].get_params():
            model.named_steps["model"].set_params(n_jobs=1)
    return models


def train_and_save(frame: pd.DataFrame, models_dir: Path, *, folds: int = 5, embargo: int = 5,
                   cost_bp: float = 2.0, progress: Progress | None = None,
                   periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
                   extra_trusted: Sequence[str] = ()) -> Path:  # fmt: skip
    """Walk-forward report, then fit on everything and save a version; returns its directory.

    ``frame``: columns symbol, timestamp, current_price and the 19 indicators, rows in
    any order, their volatility_20 annualised with ``periods_per_year`` (recorded in
    the manifest). The report is saved as ``report.json`` in the version directory.
    ``extra_trusted``: FLAMEBACK_TRUSTED_MODEL_TYPES (:func:`models.registry.save_version`).
    Raises ValueError when there is too little labelled history for the folds.
    """
    path, _ = train_with_report(frame, models_dir, folds=folds, embargo=embargo, cost_bp=cost_bp, progress=progress,
                                periods_per_year=periods_per_year, extra_trusted=extra_trusted)  # fmt: skip
    return path


def train_with_report(frame: pd.DataFrame, models_dir: Path, *, folds: int, embargo: int, cost_bp: float,
                      progress: Progress | None, periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
                      extra_trusted: Sequence[str] = ()) -> tuple[Path, dict]:  # fmt: skip
    """:func:`train_and_save`, also returning the report."""
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    data = prepare(frame)
    if data.empty or data["timestamp"].nunique() < max(folds * 4, embargo * 3):
        raise ValueError(f"not enough labelled history to train: {len(data)} complete rows on "
                         f"{data['timestamp'].nunique()} distinct timestamps")  # fmt: skip
    say(f"{len(data)} labelled rows, {data['symbol'].nunique()} symbols, {len(ML_FEATURES)} features")
    report = walk_forward(data, folds=folds, embargo=embargo, cost_bp=cost_bp, progress=say,
                          periods_per_year=periods_per_year)  # fmt: skip
    say("fitting the final models on all rows")
    models = fit_final(data)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["settings"] = {"folds": folds, "embargo": embargo, "cost_bp": cost_bp, "features": list(ML_FEATURES),
                          "initial_train_fraction": INITIAL_TRAIN_FRACTION, "periods_per_year": periods_per_year}  # fmt: skip
    summary = {m: {k: report["pooled"]["signals"][m].get(k) for k in ("accuracy", "auc", "brier", "n")}
               for m in MODEL_COLUMNS}  # fmt: skip
    path = save_version(models, models_dir, features=ML_FEATURES, span=_span(data),
                        metrics={"walk_forward_pooled": summary, "elapsed_s": report["elapsed_s"]},
                        periods_per_year=periods_per_year, extra_trusted=extra_trusted)  # fmt: skip
    report["version"] = path.name
    (path / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return path, report


def format_table(report: dict) -> str:
    """Readable report: accuracy per fold and pooled, pooled detail, and the strategy check."""
    return "\n\n".join(filter(None, [_fold_table(report.get("folds", [])), _pooled_table(report["pooled"]),
                                     _strategy_table(report["pooled"])]))  # fmt: skip


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
    lines = [(f"pooled over {test['n']} test rows ({test['start'][:10]}..{test['end'][:10]}); "
              f"base rate (share of UP) {_f(base['base_rate'], 0)} {_ci(base['base_rate_ci95'])}"),
             f"{'signal':<17}{'n':>8}{'coverage':>9}{'accuracy':>9}{'95% CI':>16}{'bal.acc':>8}{'AUC':>7}{'Brier':>7}"]  # fmt: skip
    rows = [*pooled["signals"].items(), *pooled["baselines"].items()]
    for name, m in rows:
        lines.append(f"{name:<17}{m['n']:>8}{_f(m['coverage'], 9, '{:.1%}')}{_f(m['accuracy'], 9)}"
                     f"{_ci(m['accuracy_ci95']):>16}{_f(m['balanced_accuracy'], 8)}{_f(m.get('auc'))}"
                     f"{_f(m.get('brier'))}")  # fmt: skip
    return "\n".join(lines)


def _strategy_table(pooled: dict) -> str:
    lines = [(f"strategy check: long UP / short DOWN / flat otherwise for the next tick, equal weight per "
              f"timestamp, {pooled['cost_bp']} bp per unit of position change"),
             f"{'signal':<17}{'return':>10}{'Sharpe':>8}{'maxDD':>8}{'turnover':>9}"]  # fmt: skip
    for name, s in pooled["strategy"].items():
        lines.append(f"{name:<17}{_f(s['total_return'], 10, '{:+.1%}')}{_f(s['sharpe'], 8, '{:+.2f}')}"
                     f"{_f(s['max_drawdown'], 8, '{:.1%}')}{_f(s['turnover'], 9, '{:.3f}')}")  # fmt: skip
    return "\n".join(lines)


def _f(value: float | None, width: int = 7, fmt: str = "{:.3f}") -> str:
    return f"{'-' if value is None else fmt.format(value):>{width}}"


def _ci(ci: list) -> str:
    return "-" if ci[0] is None else f"[{ci[0]:.3f},{ci[1]:.3f}]"


def load_feature_frame(file: Path, progress: bool = True,
                       periods_per_year: float = DEFAULT_PERIODS_PER_YEAR) -> pd.DataFrame:  # fmt: skip
    """Indicator rows for every tick of a CSV, from the live engine at tick spacing ``periods_per_year``."""
    frame = pd.DataFrame(iter_feature_rows(file, progress=progress, periods_per_year=periods_per_year))
    if frame.empty:
        raise ValueError(f"{file}: no ticks")
    return frame


def run_train_command(file: Path, out_dir: Path, *, report: Path | None, folds: int, embargo: int,
                      cost_bp: float, periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
                      extra_trusted: Sequence[str] = ()) -> None:  # fmt: skip
    """``faust -A flameback_app train FILE``: progress and report on stderr, JSON report, artifacts in ``out_dir``."""
    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    frame = load_feature_frame(file, periods_per_year=periods_per_year)
    path, result = train_with_report(frame, out_dir, folds=folds, embargo=embargo, cost_bp=cost_bp, progress=say,
                                     periods_per_year=periods_per_year, extra_trusted=extra_trusted)  # fmt: skip
    say(format_table(result))
    report_path = report or path / "report.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(result, indent=2, default=str))
    say(f"saved models version {path.name} in {path} ({result['elapsed_s']}s); report: {report_path}")
