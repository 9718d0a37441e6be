"""Live signals for a batch of indicator rows: four models (batched) and five rules.

Used by the worker's predict stage from an executor thread. One ``predict_proba``
call per model per batch. Without a model bundle every model column says TRAINING
(as the original system did); a row still in warm-up gets no model call (None).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from models.features import complete_rows, rows_to_matrix
from models.registry import ModelBundle
from models.rules import apply_rules

MODEL_NAMES: tuple[str, ...] = ("XGBoost", "RandomForest", "AdaBoost", "LogisticReg")


class SignalEngine:
    """Models + rules; :meth:`swap` replaces the models atomically (retraining)."""

    def __init__(self, bundle: ModelBundle | None) -> None:
        self._bundle = bundle
        self._lock = threading.Lock()

    @property
    def model_version(self) -> str | None:
        return self._bundle.version if self._bundle else None

    def swap(self, bundle: ModelBundle | None) -> None:
        with self._lock:
            self._bundle = bundle

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per row: the 9 signal columns, the 4 ``<model>_p_up`` columns and ``model_version``."""
        with self._lock:
            bundle = self._bundle
        out = [apply_rules(row) for row in rows]
        if bundle is None:
            for signals in out:
                signals.update({m: "TRAINING" for m in MODEL_NAMES})
                signals.update({f"{m}_p_up": None for m in MODEL_NAMES}, model_version=None)
            return out
        matrix = rows_to_matrix(rows)
        ready = complete_rows(matrix)
        probabilities = {m: bundle.models[m].predict_proba(matrix[ready])[:, 1] if ready.any() else []
                         for m in MODEL_NAMES}  # fmt: skip
        k = 0
        for i, signals in enumerate(out):
            signals["model_version"] = bundle.version
            for m in MODEL_NAMES:
                p_up = float(probabilities[m][k]) if ready[i] else None
                signals[f"{m}_p_up"] = p_up
                signals[m] = None if p_up is None else ("UP" if p_up > 0.5 else "DOWN")
            k += int(ready[i])
        return out
