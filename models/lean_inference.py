"""P(up) of a saved model per live batch, without the calibration wrapper's per-call overhead.

A saved model is ``CalibratedClassifierCV(FrozenEstimator(pipeline))`` with one
calibrator (``models.train.fit_calibrated``). Its ``predict_proba`` re-fits a
``LabelEncoder``, re-checks the estimator's tags, response methods and target type on
every call: on the worker's small live batches that overhead was a quarter of model
inference (py-spy, one tick per message at 1,000 ticks/s). For a binary model the
calibrated P(up) is exactly ``calibrator.predict(response)``, where the response is
the pipeline's ``decision_function`` if it has one, else its ``predict_proba[:, 1]``
(sklearn 1.9's ``_CalibratedClassifier.predict_proba``); :func:`p_up_function`
calls those two directly. Anything else — an uncalibrated model, several
calibrators, more than two classes, a user model of another shape — keeps
``predict_proba``. ``tests/models/test_lean_inference.py`` checks that both give
identical floats for every built-in model and calibration method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

PUp = Callable[[np.ndarray], np.ndarray]


def p_up_function(model: Any) -> PUp:
    """A function of a feature matrix giving ``model.predict_proba(matrix)[:, 1]``, computed the cheapest exact way."""
    return _calibrated_p_up(model) or (lambda matrix: model.predict_proba(matrix)[:, 1])


def _calibrated_p_up(model: Any) -> PUp | None:
    if not isinstance(model, CalibratedClassifierCV) or len(getattr(model, "calibrated_classifiers_", ())) != 1:
        return None
    calibrated = model.calibrated_classifiers_[0]
    frozen = calibrated.estimator
    if (
        calibrated.method not in ("sigmoid", "isotonic")
        or len(calibrated.calibrators) != 1
        or not isinstance(frozen, FrozenEstimator)
        or _classes(model) != [0, 1]
        or _classes(frozen.estimator) != [0, 1]
    ):
        return None
    estimator, calibrator = frozen.estimator, calibrated.calibrators[0]
    if hasattr(estimator, "decision_function"):
        return lambda matrix: calibrator.predict(estimator.decision_function(matrix))
    return lambda matrix: calibrator.predict(estimator.predict_proba(matrix)[:, 1])


def _classes(model: Any) -> list[Any] | None:
    classes = getattr(model, "classes_", None)
    return None if classes is None else list(classes)
