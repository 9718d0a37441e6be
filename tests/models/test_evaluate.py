"""The evaluate command: saved models on a new tick file; PREDS.csv and REPORT.json agree row for row."""

from __future__ import annotations

import json
import os
import pickle
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from models.columns import MODEL_COLUMNS, PROBABILITY_COLUMNS, RULE_COLUMNS
from models.evaluate import run_evaluate_command
from models.features import ML_FEATURES
from models.registry import MANIFEST, ArtifactError, save_version, sha256_of
from models.synthetic import indicator_frame, random_walk_prices
from models.train import train_and_save

REPO = Path(__file__).resolve().parents[2]
FAUST = Path(sys.executable).with_name("faust")


def _long_csv(path: Path, n_ticks: int, seed: int) -> Path:
    ticks = random_walk_prices(n_ticks, symbols=3, seed=seed)
    ticks.assign(timestamp=ticks["timestamp"].map(lambda t: t.isoformat()))[["symbol", "price", "timestamp"]].to_csv(
        path, index=False
    )
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
                ((calls == "UP") == (preds["label"] == 1))[confident.to_numpy()].mean()
            )
    scored = preds["BB_Rule"].isin(["UP", "DOWN"])
    assert set(preds["BB_Rule"].dropna()) <= {"UP", "DOWN", "NEUTRAL"}
    assert report["signals"]["BB_Rule"]["n"] == scored.sum()
    assert report["baselines"]["always_up"]["accuracy"] == pytest.approx(preds["label"].mean())
    assert "buy_and_hold" in report["strategy"]


def test_no_models_is_a_clear_error(tmp_path: Path) -> None:
    new_file = _long_csv(tmp_path / "new.csv", 60, seed=2)
    with pytest.raises(ArtifactError, match="run the train command first"):
        run_evaluate_command(
            new_file, tmp_path / "none", out=tmp_path / "p.csv", report=tmp_path / "r.json", cost_bp=2.0
        )


class _ShellCommand:
    """Unpickling this runs a shell command that creates a file (the measured attack on joblib artifacts)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def test_evaluate_on_pickles_with_matching_hashes_says_one_line_and_runs_nothing(tmp_path: Path) -> None:
    """Every model file replaced by a pickle that runs a shell command, the manifest's hashes updated to match:
    the command exits 1 with one ``Error:`` line, and the command never ran."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, len(ML_FEATURES))), rng.integers(0, 2, 40)
    models = {
        m: Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(x, y) for m in MODEL_COLUMNS
    }
    version = save_version(models, tmp_path / "models", features=ML_FEATURES, span={}, metrics={})
    marker = tmp_path / "pwned"
    manifest = json.loads((version / MANIFEST).read_text())
    for entry in manifest["models"].values():
        (version / entry["file"]).write_bytes(pickle.dumps(_ShellCommand(marker)))
        entry["sha256"] = sha256_of(version / entry["file"])
    (version / MANIFEST).write_text(json.dumps(manifest))
    ticks = _long_csv(tmp_path / "new.csv", 60, seed=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAMEBACK_")}
    env.update({"PYTHONPATH": str(REPO), "FLAMEBACK_DATA_DIR": str(tmp_path / "state")})
    result = subprocess.run(
        [
            str(FAUST),
            "-A",
            "flameback_app",
            "evaluate",
            str(ticks),
            "--models",
            str(version),
            "--out",
            str(tmp_path / "p.csv"),
            "--report",
            str(tmp_path / "r.json"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "not a readable skops model file" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists() and not (tmp_path / "p.csv").exists()
    pickle.loads((version / "AdaBoost.skops").read_bytes())  # control: the planted file does run the command
    assert marker.exists()
