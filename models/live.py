"""Live signals for a batch of indicator rows: four models (batched), the user's models and five rules.

Reads flat feature rows (``current_price`` + the 19 indicators, :meth:`FeatureRow.columns`) and a verified
:class:`~models.registry.ModelBundle`; writes nothing. The worker's predict agent
calls :meth:`SignalEngine.predict` from an executor once per ``stream.take`` batch:
one ``predict_proba`` call per model per batch, because per-call overhead, not
arithmetic, dominates small inputs (``bench/inference.py`` measures the ratio).
Without a bundle every model column says TRAINING (as the original system did); with
one, a row still in warm-up gets no model call (None) and no probability. With an
abstention threshold t > 0 (FLAMEBACK_ABSTAIN_BELOW) a model whose |P(up) − 0.5| ≤ t
says NEUTRAL, which the scoreboard does not score: the walk-forward report's
coverage–accuracy table shows whether the remaining, more confident calls are better.

The answer per row is a :class:`~flameback_app.core.records.Signals`. The user's models
(FLAMEBACK_USER_MODELS, :mod:`models.user_models`) are every other model of the bundle:
their calls and P(up) sit beside the four's (the scoreboard scores them like any signal),
and their names in ``user_models`` (storage writes them to its long ``model_signals`` table). One
that raises in ``predict_proba`` gives one ERROR line (once per model version) and no
call for that batch; the others carry on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flameback_app.core.records import Signals
from models.columns import MODEL_COLUMNS
from models.features import complete_rows, rows_to_matrix
from models.lean_inference import PUp, p_up_function
from models.registry import ModelBundle
from models.rules import apply_rules

log = logging.getLogger(__name__)
MODEL_NAMES: tuple[str, ...] = MODEL_COLUMNS
TRAINING = "TRAINING"
NEUTRAL = "NEUTRAL"


def call_from_probability(p_up: float, abstain_below: float = 0.0) -> str:
    """The call of a model: UP when P(up) > 0.5 (ties say DOWN, like the label).

    NEUTRAL instead when ``abstain_below`` > 0 and |P(up) − 0.5| ≤ ``abstain_below``:
    the same rule as the report's "call only when |P(up) − 0.5| > t".
    """
    if abstain_below > 0 and abs(p_up - 0.5) <= abstain_below:
        return NEUTRAL
    return "UP" if p_up > 0.5 else "DOWN"


class SignalEngine:
    """Models + rules for the live worker; :meth:`swap` replaces the models atomically (retraining)."""

    def __init__(self, bundle: ModelBundle | None, abstain_below: float = 0.0) -> None:
        self._bundle = bundle
        self._abstain_below = abstain_below
        self._lock = threading.Lock()
        self._reported: set[tuple[str, str]] = set()  # (version, user model) whose failure was logged
        self._p_up: dict[str, PUp] = _p_up_functions(bundle)

    @property
    def bundle(self) -> ModelBundle | None:
        """The models in use (the drift check reads their manifest and training sample)."""
        return self._bundle

    @property
    def model_version(self) -> str | None:
        bundle = self._bundle
        return bundle.version if bundle else None

    def swap(self, bundle: ModelBundle | None) -> None:
        """Use ``bundle`` from the next batch on; a batch in flight finishes with the models it started with."""
        p_up = _p_up_functions(bundle)
        with self._lock:
            self._bundle, self._p_up = bundle, p_up

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[Signals]:
        """Per row (flat feature columns): the calls of the models and the five rules, and each model's P(up)."""
        with self._lock:
            bundle, p_up_of = self._bundle, self._p_up
        rule_calls = [apply_rules(row) for row in rows]
        if bundle is None:
            training = dict.fromkeys(MODEL_NAMES, TRAINING)
            no_p = dict.fromkeys(MODEL_NAMES)
            return [Signals({**calls, **training}, no_p, None) for calls in rule_calls]
        matrix = rows_to_matrix(rows)
        ready = complete_rows(matrix)
        positions = np.cumsum(ready) - 1  # row i → its index among the ready rows
        probabilities: dict[str, np.ndarray | None] = {m: _p_up(p_up_of[m], matrix[ready]) for m in MODEL_NAMES}
        user = user_model_names(bundle)
        probabilities.update({m: self._user_p_up(bundle, p_up_of[m], m, matrix[ready]) for m in user})
        out = []
        for i, calls in enumerate(rule_calls):
            p_up = {m: float(p[positions[i]]) if ready[i] and p is not None else None for m, p in probabilities.items()}
            calls.update(
                {m: None if p is None else call_from_probability(p, self._abstain_below) for m, p in p_up.items()}
            )
            out.append(Signals(calls, p_up, bundle.version, user))
        return out

    def _user_p_up(self, bundle: ModelBundle, p_up_of: PUp, name: str, matrix: np.ndarray) -> np.ndarray | None:
        """A user model's P(up), or None (no call this batch) when it raises: logged once per version and model."""
        try:
            p_up = _p_up(p_up_of, matrix)
            if p_up.shape != (len(matrix),):
                raise ValueError(f"predict_proba gave shape {p_up.shape} for {len(matrix)} rows")
            return p_up
        except Exception as exc:  # noqa: BLE001 - the user's code must not stop the four built-ins
            if (bundle.version, name) not in self._reported:
                self._reported.add((bundle.version, name))
                log.error(
                    "user model %r (version %s) gives no calls: predict_proba failed (%s: %s); the other "
                    "models carry on",
                    name,
                    bundle.version,
                    type(exc).__name__,
                    " ".join(str(exc).split()),
                )
            return None


def user_model_names(bundle: ModelBundle) -> tuple[str, ...]:
    """The bundle's models beyond the built-in four, in manifest order."""
    return tuple(m for m in bundle.models if m not in MODEL_NAMES)


def _p_up(p_up_of: PUp, matrix: np.ndarray) -> np.ndarray:
    return p_up_of(matrix) if len(matrix) else np.empty(0)


def _p_up_functions(bundle: ModelBundle | None) -> dict[str, PUp]:
    """Each model's P(up) function (:mod:`models.lean_inference`), built once per bundle."""
    return {name: p_up_function(model) for name, model in bundle.models.items()} if bundle else {}
