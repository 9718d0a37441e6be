"""The evaluate command: saved models on a new tick file; PREDS.csv and REPORT.json agree row for row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.columns import MODEL_COLUMNS, PROBABILITY_COLUMNS, RULE_COLUMNS
from models.evaluate import run_evaluate_command
from models.registry import ArtifactError
from models.synthetic import indicator_frame, random_walk_prices
from models.train import train_and_save


def _long_csv(path: Path, n_ticks: int, seed: int) -> Path:
    ticks = random_walk_prices(n_ticks, symbols=3, seed=seed)
    ticks.assign(timestamp=ticks["timestamp"].map(lambda t: t.isoformat()))[["symbol", "price", "timestamp"]].to_csv(
        path, index=False)
    return path


def test_predictions_and_report_come_from_exactly_the_same_rows(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    train_and_save(indicator_frame(random_walk_prices(300, symbols=3, seed=1)), models_dir, folds=2, embargo=2)
    new_file = _long_csv(tmp_path / "new.csv", 120, seed=2)
    preds_path, report_path = tmp_path / "out" / "preds.csv", tmp_path / "out" / "report.json"
    run_evaluate_command(new_file, models_dir, out=preds_path, report=report_path, cost_bp=2.0)
    preds = pd.read_csv(preds_path, keep_default_na=False, na_values=[""])
    report = json.loads(report_path.read_text())["pooled"]
    assert len(preds) == 3 * (120 - 33 - 1)  # every tick with a label and past warm-up
    assert list(preds.columns[:3]) == ["symbol", "timestamp", "label"]
    assert set(PROBABILITY_COLUMNS) | set(MODEL_COLUMNS) | set(RULE_COLUMNS) <= set(preds.columns)
    for m in MODEL_COLUMNS:
        calls = np.where(preds[f"{m}_p_up"] > 0.5, "UP", "DOWN")
        assert (preds[m] == calls).all()
        assert report["signals"][m]["accuracy"] == pytest.approx(((calls == "UP") == (preds["label"] == 1)).mean())
        assert report["signals"][m]["auc"] == pytest.approx(roc_auc_score(preds["label"], preds[f"{m}_p_up"]))
        assert sum(b["n"] for b in report["reliability"][m]) == len(preds)  # every row in one reliability bin
        confident = (preds[f"{m}_p_up"] - 0.5).abs() > 0.01
        by_t = {c["threshold"]: c for c in report["coverage"][m]["by_threshold"]}
        assert by_t[0.01]["n"] == confident.sum()
        if confident.any():
            assert by_t[0.01]["accuracy"] == pytest.approx(
                ((calls == "UP") == (preds["label"] == 1))[confident.to_numpy()].mean())
    scored = preds["BB_Rule"].isin(["UP", "DOWN"])
    assert set(preds["BB_Rule"].dropna()) <= {"UP", "DOWN", "NEUTRAL"}
    assert report["signals"]["BB_Rule"]["n"] == scored.sum()
    assert report["baselines"]["always_up"]["accuracy"] == pytest.approx(preds["label"].mean())
    assert "buy_and_hold" in report["strategy"]


def test_no_models_is_a_clear_error(tmp_path: Path) -> None:
    new_file = _long_csv(tmp_path / "new.csv", 60, seed=2)
    with pytest.raises(ArtifactError, match="run the train command first"):
        run_evaluate_command(new_file, tmp_path / "none", out=tmp_path / "p.csv", report=tmp_path / "r.json",
                             cost_bp=2.0)  # fmt: skip
