"""Saved models on new data (the ``evaluate`` command).

Reads a tick CSV (through the live indicator engine) and a model version: the four
and any user models in it (verified by :mod:`models.registry` before anything is
loaded; a user model that does not load or predict is left out with one line). Writes PREDS.csv — one row per
tick that has a label and every ML feature: symbol, timestamp, label, each model's
probability of UP and its UP/DOWN call, each rule's UP/DOWN/NEUTRAL (empty while a
rule has no signal) — and REPORT.json with the same metrics and strategy check as
training, computed from exactly those rows. Features are computed at tick spacing
``periods_per_year`` (FLAMEBACK_PERIODS_PER_YEAR or ``--periods-per-year``); models
trained on another spacing get one WARNING line on stderr and in the report.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from models.columns import MODEL_COLUMNS, RULE_COLUMNS
from models.features import DEFAULT_PERIODS_PER_YEAR, ML_FEATURES
from models.live import call_from_probability, user_model_names
from models.registry import MANIFEST, ArtifactError, ModelBundle, load_latest, load_version, tick_spacing_check
from models.train import format_table, load_feature_frame, pooled_report, prepare


def load_models(models_dir: Path, extra_trusted: Sequence[str] = ()) -> ModelBundle:
    """A version directory itself, or the newest valid version under an artifacts root.

    ``extra_trusted``: FLAMEBACK_TRUSTED_MODEL_TYPES (see :func:`models.registry.load_version`).
    """
    if (models_dir / MANIFEST).is_file():
        return load_version(models_dir, extra_trusted=extra_trusted)
    bundle = load_latest(models_dir, extra_trusted=extra_trusted)
    if bundle is None:
        raise ArtifactError(f"no valid model version in {models_dir}; run the train command first")
    return bundle


def predictions_frame(data: pd.DataFrame, probabilities: dict[str, np.ndarray]) -> pd.DataFrame:
    """The PREDS.csv rows for prepared rows and each model's P(up)."""
    preds = pd.DataFrame(
        {
            "symbol": data["symbol"],
            "timestamp": data["timestamp"].map(lambda t: t.isoformat()),
            "label": data["label"].astype(int),
        }
    )
    for m, p_up in probabilities.items():
        preds[f"{m}_p_up"] = p_up
        preds[m] = [call_from_probability(p) for p in p_up]
    for rule in RULE_COLUMNS:
        preds[rule] = data[rule]
    return preds


def model_probabilities(bundle: ModelBundle, x: np.ndarray) -> dict[str, np.ndarray]:
    """P(up) per model of the bundle: the four, then its user models; a user model that raises is left out, said once."""
    probabilities = {m: bundle.models[m].predict_proba(x)[:, 1] for m in MODEL_COLUMNS}
    for name in user_model_names(bundle):
        try:
            probabilities[name] = bundle.models[name].predict_proba(x)[:, 1]
        except Exception as exc:  # noqa: BLE001 - the user's code must not stop the evaluation of the others
            print(
                f"user model {name!r} left out: predict_proba failed ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())}); the other models carry on",
                file=sys.stderr,
                flush=True,
            )
    return probabilities


def run_evaluate_command(
    file: Path,
    models_dir: Path,
    *,
    out: Path,
    report: Path,
    cost_bp: float,
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
    extra_trusted: Sequence[str] = (),
) -> None:
    """``faust -A flameback_app evaluate FILE``: PREDS.csv and REPORT.json for saved models on new data."""
    bundle = load_models(models_dir, extra_trusted)
    for name, why in bundle.left_out.items():
        print(f"user model {name!r} left out: {why}; the other models carry on", file=sys.stderr, flush=True)
    spacing = tick_spacing_check(bundle.manifest, periods_per_year, "FLAMEBACK_PERIODS_PER_YEAR/--periods-per-year")
    if spacing.warning or spacing.note:
        print(f"WARNING: {spacing.warning}" if spacing.warning else spacing.note, file=sys.stderr, flush=True)
    data = prepare(load_feature_frame(file, periods_per_year=periods_per_year))
    if data.empty:
        raise ValueError(f"{file}: no tick has both a label and every feature")
    x = data[list(ML_FEATURES)].to_numpy()
    probabilities = model_probabilities(bundle, x)
    preds = predictions_frame(data, probabilities)
    out.parent.mkdir(parents=True, exist_ok=True)
    preds.to_csv(out, index=False)
    result = {
        "version": bundle.version,
        "file": str(file),
        "training_span": bundle.manifest.get("training_span"),
        "periods_per_year": periods_per_year,
        "trained_periods_per_year": spacing.trained,
        "tick_spacing_warning": spacing.warning,
        "pooled": pooled_report(data, probabilities, cost_bp, periods_per_year),
    }
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(result, indent=2, default=str))
    print(format_table(result), file=sys.stderr)
    print(f"{len(preds)} rows → {out}; report → {report} (models {bundle.version})", file=sys.stderr)
