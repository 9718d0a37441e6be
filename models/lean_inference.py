"""P(up) of a saved model per live batch, without the calibration wrapper's per-call overhead.

A saved model is ``CalibratedClassifierCV(FrozenEstimator(pipeline))`` with one
calibrator (``models.train.fit_calibrated``). Its ``predict_proba`` re-fits a
``LabelEncoder``, re-checks the estimator's tags, response methods and target type on
every call: on the worker's small live batches that overhead was a quarter of model
inference (py-spy, one tick per message at 1,000 ticks/s). For a binary model the
calibrated P(up) is exactly ``calibrator.predict(response)``, where the response is
the pipeline's ``decision_function`` if it has one, else its ``predict_proba[:, 1]``
(sklearn 1.9's ``_CalibratedClassifier.predict_proba``); :func:`p_up_function`
calls those two directly, and walks the trees of the random forest and AdaBoost
itself (their per-tree validation was most of their cost on a 20-row batch). Anything else — an uncalibrated model, several
calibrators, more than two classes, a user model of another shape — keeps
``predict_proba``. ``tests/models/test_lean_inference.py`` checks that both give
identical floats for every built-in model and calibration method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

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
    calibrator = calibrated.calibrators[0]
    response = _response_function(frozen.estimator)
    return lambda matrix: calibrator.predict(response(matrix))


def _response_function(estimator: Any) -> PUp:
    """What the calibrator reads: ``decision_function`` if the estimator has one, else ``predict_proba[:, 1]``.

    For the scaled tree ensembles the trees are walked directly (:func:`_forest_p_up`,
    :func:`_samme_decision`), the rest is the estimator's own method.
    """
    lean = _lean_scaled_ensemble(estimator)
    if lean is not None:
        return lean
    if hasattr(estimator, "decision_function"):
        return estimator.decision_function  # type: ignore[no-any-return]  # sklearn's method
    return lambda matrix: estimator.predict_proba(matrix)[:, 1]


def _lean_scaled_ensemble(estimator: Any) -> PUp | None:
    """``scale`` then the ensemble, for ``Pipeline([("scale", StandardScaler()), ("model", forest or SAMME)])``."""
    if not isinstance(estimator, Pipeline) or [name for name, _ in estimator.steps] != ["scale", "model"]:
        return None
    scale, model = estimator.named_steps["scale"], estimator.named_steps["model"]
    if not isinstance(scale, StandardScaler) or _classes(model) != [0, 1]:
        return None
    if type(model) is RandomForestClassifier and model.n_outputs_ == 1:
        ensemble = _forest_p_up(model)
    elif type(model) is AdaBoostClassifier and all(_single_output_tree(tree) for tree in model.estimators_):
        ensemble = _samme_decision(model)
    else:
        return None
    return lambda matrix: ensemble(scale.transform(matrix))


def _single_output_tree(tree: Any) -> bool:
    return type(tree) is DecisionTreeClassifier and tree.n_outputs_ == 1


def _forest_p_up(forest: RandomForestClassifier) -> PUp:
    """``forest.predict_proba(x)[:, 1]``: each tree's leaf fractions summed in order, over the tree count.

    As sklearn 1.9's ``ForestClassifier.predict_proba`` with one job, without its
    per-call validation, ``joblib.Parallel`` and per-tree ``check_is_fitted``.
    """
    trees = [tree.tree_ for tree in forest.estimators_]
    n_classes = int(forest.n_classes_)

    def p_up(x: np.ndarray) -> np.ndarray:
        x32 = np.asarray(x, dtype=np.float32)
        total = np.zeros((x32.shape[0], n_classes), dtype=np.float64)
        for tree in trees:
            total += tree.predict(x32)[:, :n_classes]
        total /= len(trees)
        return total[:, 1]

    return p_up


def _samme_decision(boost: AdaBoostClassifier) -> PUp:
    """``boost.decision_function(x)`` for two classes (SAMME), as sklearn 1.9 computes it, without per-tree checks."""
    classes = boost.classes_[:, np.newaxis]
    members = [(tree.tree_, tree.classes_) for tree in boost.estimators_]
    weights = boost.estimator_weights_
    n_classes = int(boost.n_classes_)

    def decision(x: np.ndarray) -> np.ndarray:
        x32 = np.asarray(x, dtype=np.float32)
        pred = sum(
            np.where(
                (tree_classes.take(np.argmax(tree.predict(x32), axis=1), axis=0) == classes).T,
                w,
                -1 / (n_classes - 1) * w,
            )
            for (tree, tree_classes), w in zip(members, weights, strict=False)  # as sklearn: weights may run longer
        )
        pred /= weights.sum()
        pred[:, 0] *= -1
        return pred.sum(axis=1)  # type: ignore[no-any-return]  # numpy's sum

    return decision


def _classes(model: Any) -> list[Any] | None:
    classes = getattr(model, "classes_", None)
    return None if classes is None else list(classes)
