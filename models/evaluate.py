"""Saved models on new data (the ``evaluate`` command).

Reads a tick CSV (through the live indicator engine) and a model version (verified
by :mod:`models.registry` before anything is unpickled). Writes PREDS.csv — one row
per tick that has a label and every feature: symbol, timestamp, label, each model's
probability of UP and its call, each rule's call — and REPORT.json with the same
metrics and strategy check as training, computed from exactly those rows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from models.features import ML_FEATURES
from models.live import MODEL_NAMES
from models.registry import ArtifactError, load_latest, load_version
from models.rules import RULES
from models.train import format_table, load_feature_frame, pooled_report, prepare


def load_models(models_dir: Path):  # type: ignore[no-untyped-def]
    """A version directory, or the newest valid version under an artifacts root."""
    if (models_dir / "manifest.json").is_file():
        return load_version(models_dir)
    bundle = load_latest(models_dir)
    if bundle is None:
        raise ArtifactError(f"no valid model version in {models_dir}; run the train command first")
    return bundle


def run_evaluate_command(file: Path, models_dir: Path, *, out: Path, report: Path, cost_bp: float) -> None:
    bundle = load_models(models_dir)
    data = prepare(load_feature_frame(file))
    if data.empty:
        raise ValueError(f"{file}: no tick has both a label and every feature")
    x = data[list(ML_FEATURES)].to_numpy()
    probabilities = {m: bundle.models[m].predict_proba(x)[:, 1] for m in MODEL_NAMES}
    preds = data[["symbol", "timestamp"]].copy()
    preds["timestamp"] = preds["timestamp"].map(lambda t: t.isoformat())
    preds["label"] = data["label"].astype(int)
    for m in MODEL_NAMES:
        preds[f"{m}_p_up"] = probabilities[m]
        preds[m] = np.where(probabilities[m] > 0.5, "UP", "DOWN")
    for rule in RULES:
        preds[rule] = data[rule].fillna("")
    out.parent.mkdir(parents=True, exist_ok=True)
    preds.to_csv(out, index=False)
    result = {"version": bundle.version, "file": str(file), "pooled": pooled_report(data, probabilities, cost_bp)}
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(result, indent=2, default=str))
    print(format_table(result), file=sys.stderr)
    print(f"{len(preds)} rows → {out}; report → {report} (models {bundle.version})", file=sys.stderr)
