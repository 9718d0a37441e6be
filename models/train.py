"""Walk-forward training and evaluation of the four models and five rules (the ``train`` command).

Reads a tick CSV (through the live indicator engine, :func:`flameback_app.offline.iter_feature_rows`)
or a frame of indicator rows (the worker's database history). Writes a report
(JSON and a readable table) and a new artifact version (:mod:`models.registry`).

Protocol (DESIGN §4): one pooled model per algorithm across symbols, each a
scikit-learn Pipeline whose scaler is fitted inside the fold. Dates are split in
time: the first 40 % only ever train; the rest is cut into ``folds`` test blocks.
For each block the training rows are those strictly earlier, minus every row whose
label reaches into the block (purge: a label needs the symbol's *next* price) and
minus the ``embargo`` dates just before it. Nothing is fitted on data later than what
it predicts. Rules are scored on the same test rows.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

from models.features import ML_FEATURES, add_labels, complete_rows, feature_matrix
from models.live import MODEL_NAMES
from models.metrics import call_metrics, naive_baselines, strategy_check
from models.registry import save_version
from models.rules import RULES, apply_rules

INITIAL_TRAIN_FRACTION = 0.4
Progress = Callable[[str], None]


def make_models(seed: int = 7) -> dict[str, Pipeline]:
    """The four classifiers, each behind its own scaler (fitted inside each fold)."""
    def pipe(model: Any) -> Pipeline:
        return Pipeline([("scale", StandardScaler()), ("model", model)])

    return {
        "XGBoost": pipe(XGBClassifier(n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8,
                                      colsample_bytree=0.8, tree_method="hist", n_jobs=2, random_state=seed,
                                      eval_metric="logloss")),
        "RandomForest": pipe(RandomForestClassifier(n_estimators=80, max_depth=8, min_samples_leaf=100,
                                                    max_samples=0.5, n_jobs=2, random_state=seed)),
        "AdaBoost": pipe(AdaBoostClassifier(n_estimators=50, learning_rate=0.5, random_state=seed)),
        "LogisticReg": pipe(LogisticRegression(C=1.0, max_iter=1000)),
    }  # fmt: skip


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Labels, ML features, rule calls and helpers, for rows that have a label and every feature."""
    data = add_labels(frame)
    matrix = feature_matrix({c: data[c].to_numpy(dtype=float) for c in data.columns if c not in ("symbol", "timestamp")})
    data[list(ML_FEATURES)] = matrix
    data["next_ts"] = data.groupby("symbol", sort=False)["timestamp"].shift(-1)
    keep = data["label"].notna().to_numpy() & complete_rows(matrix)
    data = data[keep].reset_index(drop=True)
    rule_calls = [apply_rules(r) for r in data.to_dict("records")]
    for rule in RULES:
        data[rule] = [calls[rule] for calls in rule_calls]
    data["last_move_up"] = (data["f_ret_1"] > 0).astype(float)
    return data


def walk_forward_splits(data: pd.DataFrame, folds: int, embargo: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_mask, test_mask) per fold, purged and embargoed, in time order."""
    dates = np.sort(data["timestamp"].unique())
    first_test = int(len(dates) * INITIAL_TRAIN_FRACTION)
    bounds = np.linspace(first_test, len(dates), folds + 1).astype(int)
    ts, next_ts = data["timestamp"].to_numpy(), data["next_ts"].to_numpy()
    splits = []
    for start, end in itertools.pairwise(bounds):
        test_start = dates[start]
        test_end = dates[end - 1]
        embargo_cut = dates[max(start - embargo, 0)]
        train = (ts < embargo_cut) & (next_ts < test_start)
        test = (ts >= test_start) & (ts <= test_end)
        splits.append((train, test))
    return splits


def _calls(values: pd.Series) -> np.ndarray:
    return values.map({"UP": 1.0, "DOWN": 0.0}).astype(float).to_numpy()


def _span(rows: pd.DataFrame) -> dict[str, Any]:
    return {"n": len(rows), "start": str(rows["timestamp"].min()), "end": str(rows["timestamp"].max())}


def evaluate_fold(data: pd.DataFrame, train: np.ndarray, test: np.ndarray) -> tuple[dict, dict[str, np.ndarray]]:
    """Fit on ``train``, score models and rules on ``test``; returns metrics and test probabilities."""
    x_train, y_train = data.loc[train, list(ML_FEATURES)].to_numpy(), data.loc[train, "label"].to_numpy()
    x_test, y_test = data.loc[test, list(ML_FEATURES)].to_numpy(), data.loc[test, "label"].to_numpy()
    signals, probabilities = {}, {}
    for name, model in make_models().items():
        model.fit(x_train, y_train)
        p_up = model.predict_proba(x_test)[:, 1]
        probabilities[name] = p_up
        signals[name] = call_metrics((p_up > 0.5).astype(float), y_test, p_up)
    for rule in RULES:
        signals[rule] = call_metrics(_calls(data.loc[test, rule]), y_test)
    result = {"train": _span(data[train]), "test": _span(data[test]), "signals": signals,
              "baselines": naive_baselines(y_test, data.loc[test, "last_move_up"].to_numpy())}  # fmt: skip
    return result, probabilities


def walk_forward(data: pd.DataFrame, folds: int, embargo: int, cost_bp: float, progress: Progress) -> dict:
    """The whole walk-forward report: per fold, pooled, and the strategy check on pooled test rows."""
    fold_reports, tested, probs = [], [], {m: [] for m in MODEL_NAMES}
    for k, (train, test) in enumerate(walk_forward_splits(data, folds, embargo), start=1):
        started = time.monotonic()
        report, p = evaluate_fold(data, train, test)
        fold_reports.append({"fold": k, **report})
        tested.append(np.flatnonzero(test))
        for m in MODEL_NAMES:
            probs[m].append(p[m])
        accs = " ".join(f"{m}={report['signals'][m]['accuracy']:.3f}" for m in MODEL_NAMES)
        progress(f"fold {k}/{folds}: train {report['train']['n']} rows to {report['train']['end'][:10]}, "
                 f"test {report['test']['n']} rows {report['test']['start'][:10]}..{report['test']['end'][:10]}; "
                 f"{accs} ({time.monotonic() - started:.1f}s)")  # fmt: skip
    rows = data.iloc[np.concatenate(tested)].reset_index(drop=True)
    pooled_probs = {m: np.concatenate(probs[m]) for m in MODEL_NAMES}
    return {"folds": fold_reports, "pooled": pooled_report(rows, pooled_probs, cost_bp)}


def pooled_report(rows: pd.DataFrame, probabilities: dict[str, np.ndarray], cost_bp: float) -> dict:
    """Metrics and the strategy check over every tested row (also used by ``evaluate``)."""
    y = rows["label"].to_numpy()
    signals, strategy = {}, {}
    for m, p_up in probabilities.items():
        calls = (p_up > 0.5).astype(float)
        signals[m] = call_metrics(calls, y, p_up)
        strategy[m] = strategy_check(rows, np.where(calls > 0.5, 1.0, -1.0), cost_bp)
    for rule in RULES:
        calls = _calls(rows[rule])
        signals[rule] = call_metrics(calls, y)
        strategy[rule] = strategy_check(rows, np.nan_to_num(calls * 2.0 - 1.0, nan=0.0), cost_bp)
    strategy["buy_and_hold"] = strategy_check(rows, np.ones(len(rows)), cost_bp)
    return {"test": _span(rows), "signals": signals, "strategy": strategy, "cost_bp": cost_bp,
            "baselines": naive_baselines(y, rows["last_move_up"].to_numpy())}  # fmt: skip


def fit_final(data: pd.DataFrame) -> dict[str, Pipeline]:
    x, y = data[list(ML_FEATURES)].to_numpy(), data["label"].to_numpy()
    models = make_models()
    for model in models.values():
        model.fit(x, y)
    return models


def train_and_save(frame: pd.DataFrame, models_dir: Path, *, folds: int = 5, embargo: int = 5,
                   cost_bp: float = 2.0, progress: Progress | None = None) -> Path:  # fmt: skip
    """Walk-forward report, then fit on everything and save a version; returns its directory."""
    path, _ = train_with_report(frame, models_dir, folds=folds, embargo=embargo, cost_bp=cost_bp, progress=progress)
    return path


def train_with_report(frame: pd.DataFrame, models_dir: Path, *, folds: int, embargo: int, cost_bp: float,
                      progress: Progress | None) -> tuple[Path, dict]:  # fmt: skip
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    data = prepare(frame)
    if data.empty or data["timestamp"].nunique() < folds * 4:
        raise ValueError(f"not enough labelled history to train ({len(data)} complete rows)")
    say(f"{len(data)} labelled rows, {data['symbol'].nunique()} symbols, {len(ML_FEATURES)} features")
    report = walk_forward(data, folds, embargo, cost_bp, say)
    say("fitting the final models on all rows")
    models = fit_final(data)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["settings"] = {"folds": folds, "embargo": embargo, "cost_bp": cost_bp, "features": list(ML_FEATURES)}
    summary = {m: {k: report["pooled"]["signals"][m].get(k) for k in ("accuracy", "auc", "brier", "n")}
               for m in MODEL_NAMES}  # fmt: skip
    path = save_version(models, models_dir, features=list(ML_FEATURES), span=_span(data),
                        metrics={"walk_forward_pooled": summary})  # fmt: skip
    report["version"] = path.name
    return path, report


def format_table(report: dict) -> str:
    """The pooled walk-forward results and strategy check as a fixed-width table."""
    pooled = report["pooled"]
    lines = [(f"walk-forward, pooled over {pooled['test']['n']} test rows "
             f"({pooled['test']['start'][:10]}..{pooled['test']['end'][:10]})"),
             (f"{'signal':<17}{'n':>8}{'acc':>7}{'95% CI':>16}{'bal.acc':>8}{'AUC':>7}{'Brier':>7}"
             f"{'return':>9}{'Sharpe':>8}{'maxDD':>8}{'turn':>6}")]  # fmt: skip
    rows = [*pooled["signals"].items(), ("always_up", pooled["baselines"]["always_up"]),
            ("same_as_last", pooled["baselines"]["same_as_last_move"])]  # fmt: skip
    for name, m in rows:
        s = pooled["strategy"].get(name, {})
        lines.append(
            f"{name:<17}{m['n']:>8}{_f(m['accuracy'])}{_ci(m['accuracy_ci95']):>16}{_f(m['balanced_accuracy'], 8)}"
            f"{_f(m.get('auc'))}{_f(m.get('brier'))}{_f(s.get('total_return'), 9, '{:+.1%}')}"
            f"{_f(s.get('sharpe'), 8, '{:+.2f}')}{_f(s.get('max_drawdown'), 8, '{:.1%}')}{_f(s.get('turnover'), 6, '{:.2f}')}"
        )  # fmt: skip
    bh = pooled["strategy"]["buy_and_hold"]
    lines.append(f"buy_and_hold: return {bh['total_return']:+.1%}, Sharpe {bh['sharpe'] or 0:+.2f}, "
                 f"max drawdown {bh['max_drawdown']:.1%} (cost {pooled['cost_bp']} bp per position change)")  # fmt: skip
    return "\n".join(lines)


def _f(value: float | None, width: int = 7, fmt: str = "{:.3f}") -> str:
    return f"{'-' if value is None else fmt.format(value):>{width}}"


def _ci(ci: list) -> str:
    return "-" if ci[0] is None else f"[{ci[0]:.3f},{ci[1]:.3f}]"


def load_feature_frame(file: Path, progress: bool = True) -> pd.DataFrame:
    from flameback_app.offline import iter_feature_rows

    return pd.DataFrame(iter_feature_rows(file, progress=progress))


def run_train_command(file: Path, out_dir: Path, *, report: Path | None, folds: int, embargo: int,
                      cost_bp: float) -> None:  # fmt: skip
    """``faust -A flameback_app train FILE``: report on stderr (and JSON), artifacts in ``out_dir``."""
    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    frame = load_feature_frame(file)
    path, result = train_with_report(frame, out_dir, folds=folds, embargo=embargo, cost_bp=cost_bp, progress=say)
    say(format_table(result))
    report_path = report or path / "report.json"
    report_path.write_text(json.dumps(result, indent=2, default=str))
    say(f"saved models version {path.name} in {path} ({result['elapsed_s']}s); report: {report_path}")
