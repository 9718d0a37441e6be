"""Walk-forward protocol and leakage canaries, on generated prices through the real indicator engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.columns import MODEL_COLUMNS, RULE_COLUMNS
from models.features import ML_FEATURES
from models.metrics import call_metrics, equity_curves, strategy_check, wilson_interval
from models.registry import load_latest, load_training_sample
from models.synthetic import indicator_frame, random_walk_prices
from models.train import (
    INITIAL_TRAIN_FRACTION,
    format_table,
    pipeline_of,
    prepare,
    train_and_save,
    walk_forward,
    walk_forward_splits,
)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return prepare(indicator_frame(random_walk_prices(1200, symbols=4, seed=3)))


def _quiet(_msg: str) -> None:
    pass


def _timestamps(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return frame["timestamp"].dt.tz_convert(None).to_numpy(), frame["next_ts"].dt.tz_convert(None).to_numpy()


def test_folds_never_train_on_data_later_than_what_they_predict(data: pd.DataFrame) -> None:
    ts, next_ts = _timestamps(data)
    dates = np.unique(ts)
    embargo = 5
    folds = walk_forward_splits(ts, next_ts, folds=4, embargo=embargo)
    assert len(folds) == 4
    assert dates[int(len(dates) * INITIAL_TRAIN_FRACTION)] == ts[folds[0].test].min()
    for k, fold in enumerate(folds):
        test_start = ts[fold.test].min()
        assert ts[fold.train].max() < test_start
        assert next_ts[fold.train].max() < test_start  # purged: no training label is known inside the block
        first_test_date = np.searchsorted(dates, test_start)
        assert np.searchsorted(dates, ts[fold.train].max()) == first_test_date - embargo - 1  # exactly embargoed
        assert not np.isin(ts[fold.train], dates[first_test_date - embargo : first_test_date]).any()
        assert len(np.intersect1d(fold.train, fold.test)) == 0
        if k:
            assert ts[folds[k - 1].test].max() < test_start  # blocks in time order, disjoint
            assert len(fold.train) > len(folds[k - 1].train)  # expanding window
    tested = np.concatenate([f.test for f in folds])
    assert len(tested) == len(np.unique(tested)) == (ts >= ts[folds[0].test].min()).sum()  # every later row once


def test_purge_drops_rows_whose_next_tick_lies_inside_the_test_block() -> None:
    day = np.timedelta64(1, "D")
    ts = np.datetime64("2020-01-01") + np.arange(100) * day
    next_ts = ts + day
    next_ts[30] = ts[60]  # a symbol that paused: its label is known only at day 60
    folds = walk_forward_splits(ts, next_ts, folds=2, embargo=2)
    assert ts[folds[0].test].min() == ts[40]
    assert 30 not in folds[0].train and 29 in folds[0].train
    assert 30 in folds[1].train  # once its label is in the past it trains


def test_shuffled_labels_score_inside_the_base_rate_interval(data: pd.DataFrame) -> None:
    shuffled = data.assign(label=np.random.default_rng(0).permutation(data["label"].to_numpy()))
    report = walk_forward(shuffled, folds=3, embargo=5, cost_bp=2.0, progress=_quiet)
    pooled = report["pooled"]
    base = pooled["baselines"]["always_up"]
    majority = max(base["base_rate"], 1.0 - base["base_rate"])
    low, high = wilson_interval(round(majority * base["n"]), base["n"])
    for m in MODEL_COLUMNS:
        accuracy = pooled["signals"][m]["accuracy"]
        assert 1.0 - high <= accuracy <= high, (m, accuracy, (low, high))  # no better than guessing


def test_a_leaked_feature_is_seen_by_the_harness(data: pd.DataFrame) -> None:
    leaked = data.assign(f_next_return=data["next_price"] / data["current_price"] - 1.0)
    report = walk_forward(
        leaked,
        folds=3,
        embargo=5,
        cost_bp=2.0,
        progress=_quiet,
        features=(*ML_FEATURES, "f_next_return"),
        importance_rows=300,
    )
    for m in MODEL_COLUMNS:
        assert report["pooled"]["signals"][m]["accuracy"] > 0.97, m
        assert report["pooled"]["signals"][m]["auc"] > 0.99, m
    importance = report["feature_importance"]
    assert importance["fold"] == 3 and importance["rows"] == 300  # the newest held-out block, sampled
    for m in MODEL_COLUMNS:  # shuffling the leak costs most of the AUC; no honest feature comes close
        ranked = sorted(importance["models"][m].items(), key=lambda item: -item[1]["mean"])
        assert ranked[0][0] == "f_next_return" and ranked[0][1]["mean"] > 0.2, (m, ranked[:3])
        assert ranked[1][1]["mean"] < 0.1, (m, ranked[:3])


def test_report_has_every_signal_per_fold_and_pooled(data: pd.DataFrame) -> None:
    progress: list[str] = []
    report = walk_forward(data, folds=3, embargo=5, cost_bp=2.0, progress=progress.append)
    assert [line.split(":")[0] for line in progress] == ["fold 1/3", "fold 2/3", "fold 3/3"]
    for part in [*report["folds"], report["pooled"]]:
        assert set(part["signals"]) == {*MODEL_COLUMNS, *RULE_COLUMNS}
        assert set(part["baselines"]) == {"always_up", "same_as_last_move"}
        for m in MODEL_COLUMNS:
            assert {"accuracy", "accuracy_ci95", "balanced_accuracy", "auc", "brier", "n", "base_rate"} <= set(
                part["signals"][m]
            )
        assert 0.35 < part["signals"]["XGBoost"]["accuracy"] < 0.65  # a random walk: no edge
    assert set(report["pooled"]["strategy"]) == {*MODEL_COLUMNS, *RULE_COLUMNS, "buy_and_hold"}
    table = format_table(report)
    assert all(name in table for name in (*MODEL_COLUMNS, *RULE_COLUMNS, "buy_and_hold", "fold 3"))


def test_train_and_save_writes_a_loadable_version_from_rows_in_any_order(tmp_path: Path) -> None:
    frame = indicator_frame(random_walk_prices(400, symbols=3, seed=8)).sample(frac=1.0, random_state=1)
    path = train_and_save(frame, tmp_path, folds=3, embargo=3)
    bundle = load_latest(tmp_path)
    assert bundle is not None and bundle.path == path.resolve()
    assert set(bundle.models) == set(MODEL_COLUMNS)
    assert pipeline_of(bundle.models["RandomForest"]).named_steps["model"].n_jobs == 1  # predicts on one thread
    sample = load_training_sample(bundle)  # the drift check's reference: every training row here (< 10,000)
    assert sample is not None and sample.features.shape == (bundle.manifest["training_span"]["n"], len(ML_FEATURES))
    assert set(sample.symbols) == set(frame["symbol"])
    report = json.loads((path / "report.json").read_text())
    assert report["version"] == path.name == bundle.version
    importance = bundle.manifest["metrics"]["feature_importance"]  # kept in the manifest, as in the report
    assert importance == report["feature_importance"] and importance["scoring"] == "roc_auc"
    assert set(importance["models"]) == set(MODEL_COLUMNS)
    assert all(list(scores) == list(ML_FEATURES) for scores in importance["models"].values())
    curves = report["pooled"]["equity_curves"]
    assert 0 < len(curves["timestamp"]) <= 500 and set(curves["equity"]) == {
        *MODEL_COLUMNS,
        *RULE_COLUMNS,
        "buy_and_hold",
    }
    for name, curve in curves["equity"].items():  # the curve ends where the strategy check's return does
        assert curve[-1] == pytest.approx(1.0 + report["pooled"]["strategy"][name]["total_return"], abs=1e-5)
    ordered = indicator_frame(random_walk_prices(400, symbols=3, seed=8))
    again = json.loads(
        (train_and_save(ordered, tmp_path / "b", folds=3, embargo=3, importance_rows=0) / "report.json").read_text()
    )
    assert "feature_importance" not in again  # importance is optional and costs nothing when off
    assert again["pooled"]["signals"] == report["pooled"]["signals"]  # row order does not matter


def test_too_little_history_is_a_clear_error(tmp_path: Path) -> None:
    frame = indicator_frame(random_walk_prices(50, symbols=2, seed=1))
    with pytest.raises(ValueError, match="not enough labelled history"):
        train_and_save(frame, tmp_path)


def test_call_metrics_arithmetic_and_abstentions() -> None:
    calls = np.array([1.0, 0.0, 1.0, np.nan, 1.0])
    labels = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    m = call_metrics(calls, labels)
    assert (m["n"], m["accuracy"], m["coverage"], m["base_rate"]) == (4, 0.75, 0.8, 0.5)
    assert m["balanced_accuracy"] == pytest.approx(0.75)
    assert m["accuracy_ci95"][0] < 0.75 < m["accuracy_ci95"][1]


def test_equity_curves_keep_at_most_max_points_and_the_last_value() -> None:
    frame = pd.DataFrame(
        {"symbol": ["A"] * 1000, "timestamp": range(1000), "current_price": 100.0, "next_price": 101.0}
    )
    curves = equity_curves(frame, {"long": np.ones(1000), "flat": np.zeros(1000)}, cost_bp=0.0, max_points=50)
    assert len(curves["timestamp"]) == 50 and curves["timestamp"][0] == "0" and curves["timestamp"][-1] == "999"
    assert curves["equity"]["long"][-1] == pytest.approx(1.01**1000, rel=1e-6)
    assert curves["equity"]["flat"] == [1.0] * 50


def test_wilson_interval_matches_the_textbook_value() -> None:
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)


def test_strategy_check_arithmetic() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["A", "A", "A"],
            "timestamp": [1, 2, 3],
            "current_price": [100.0, 110.0, 99.0],
            "next_price": [110.0, 99.0, 99.0],
        }
    )
    result = strategy_check(frame, np.array([1.0, -1.0, -1.0]), cost_bp=10.0)
    # +10 % − 10 bp (enter long), +10 % − 20 bp (flip to short), 0 % (hold short)
    expected = (1 + 0.10 - 0.001) * (1 + 0.10 - 0.002) - 1
    assert result["total_return"] == pytest.approx(expected)
    assert result["turnover"] == pytest.approx(1.0)  # (1 + 2 + 0) / 3
    assert result["max_drawdown"] == pytest.approx(0.0)


def test_real_daily_futures_score_near_chance_not_like_a_leak(real_file: Path) -> None:
    from flameback_app.core.offline import iter_feature_rows

    frame = pd.DataFrame(iter_feature_rows(real_file, symbols={"ES1 Index", "CL1 Comdty", "GC1 Comdty"}))
    report = walk_forward(prepare(frame), folds=2, embargo=5, cost_bp=2.0, progress=_quiet)
    for m in MODEL_COLUMNS:
        assert 0.44 < report["pooled"]["signals"][m]["accuracy"] < 0.56, m
