"""The live P(up) path gives exactly ``predict_proba``'s floats, for every built-in model and calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from models.lean_inference import _calibrated_p_up, _lean_scaled_ensemble, p_up_function
from models.train import fit_final, make_models, pipeline_of

FEATURES = ("a", "b", "c")


def _frame(rows: int = 3000, seed: int = 3) -> pd.DataFrame:
    """Prepared-style rows whose label leans on the features (so no model is constant)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    label = (x @ np.array([1.0, -0.5, 0.25]) + rng.normal(scale=1.0, size=rows)) > 0
    ts = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(np.arange(rows), unit="h")
    frame = pd.DataFrame(x, columns=list(FEATURES))
    frame["timestamp"], frame["next_ts"] = ts, ts + pd.Timedelta(hours=1)
    frame["symbol"], frame["label"] = "S", label.astype(float)
    return frame


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_the_lean_path_equals_predict_proba_for_each_built_in_model(calibration: str) -> None:
    models = fit_final(_frame(), lambda: make_models(n_jobs=1), calibration=calibration, embargo=2, features=FEATURES)
    rng = np.random.default_rng(9)
    matrices = [
        rng.normal(size=(257, len(FEATURES))),
        rng.normal(scale=50.0, size=(20, len(FEATURES))),
        np.zeros((1, 3)),
    ]
    for name, model in models.items():
        assert _calibrated_p_up(model) is not None, name  # the saved shape is recognised: the lean path is taken
        if name in ("RandomForest", "AdaBoost"):
            assert _lean_scaled_ensemble(pipeline_of(model)) is not None, name  # and their trees are walked directly
        for matrix in matrices:
            assert np.array_equal(p_up_function(model)(matrix), model.predict_proba(matrix)[:, 1]), name


def test_an_uncalibrated_or_unrecognised_model_keeps_predict_proba() -> None:
    frame = _frame(500)
    bare = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(
        frame[list(FEATURES)].to_numpy(), frame["label"].to_numpy()
    )
    matrix = np.random.default_rng(2).normal(size=(10, len(FEATURES)))
    assert _calibrated_p_up(bare) is None
    assert np.array_equal(p_up_function(bare)(matrix), bare.predict_proba(matrix)[:, 1])
