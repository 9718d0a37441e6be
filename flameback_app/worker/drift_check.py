"""The worker's drift check: live model inputs against the training sample, stored, optionally retraining.

Faust-free: :mod:`flameback_app.tasks.schedules` calls :meth:`DriftCheck.run` on a timer
(FLAMEBACK_DRIFT_EVERY_S). Everything blocking (reading the newest rows, the PSI,
writing ``feature_drift``) runs in the runtime's executor, never on the event loop.
Cost per run: one indexed read of the newest FLAMEBACK_DRIFT_LIVE_ROWS rows per symbol
(the (symbol, id) index) and one of the newest rows overall, then a histogram per
feature; the training sample is read and hash-checked once per model version.

With FLAMEBACK_RETRAIN_ON_DRIFT a pooled flag asks the model service for a retrain
(the same background training as the schedule), once per model version: the new
version is trained on the history that includes the drifted rows, and if even it is
flagged, asking again at every check would retrain without end.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from flameback_app.core.records import utc_now
from flameback_app.settings import Settings
from flameback_app.storage import db
from flameback_app.worker.runtime import Runtime
from models.columns import ALL_SYMBOLS
from models.drift import POOLED, FeatureDrift, TrainingSample, drift_report, pooled_drift_flagged
from models.features import ML_FEATURES, complete_rows, feature_matrix
from models.registry import ArtifactError, ModelBundle, load_training_sample

log = logging.getLogger(__name__)
_INPUT_COLUMNS = ("current_price", *db.FEATURE_COLUMNS)


class Retrainer(Protocol):
    def request_retrain(self, reason: str) -> None: ...


def live_symbols(engine: Engine) -> list[str]:
    """Symbols the worker has scored (the small ``scoreboard`` table, not a scan of ``predictions``)."""
    stmt = select(db.scoreboard.c.symbol).distinct().where(db.scoreboard.c.symbol != ALL_SYMBOLS)
    with engine.connect() as conn:
        return sorted(conn.scalars(stmt))


def newest_features(engine: Engine, symbol: str | None, limit: int) -> np.ndarray:
    """The model features of the newest ``limit`` rows of ``symbol`` (None: of all symbols), complete rows only."""
    p = db.predictions
    stmt = select(*(p.c[c] for c in _INPUT_COLUMNS)).order_by(p.c.id.desc()).limit(limit)
    if symbol is not None:
        stmt = stmt.where(p.c.symbol == symbol)
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(stmt)]  # plain tuples: NumPy reads Row objects ~40x slower
    values = np.array(rows, dtype=float).reshape(-1, len(_INPUT_COLUMNS))  # None → NaN
    matrix = feature_matrix(dict(zip(_INPUT_COLUMNS, values.T, strict=True)))
    complete: np.ndarray = matrix[complete_rows(matrix)]
    return complete


def measure_drift(engine: Engine, sample: TrainingSample, settings: Settings) -> list[FeatureDrift]:
    """PSI of every feature, per symbol and pooled, of the newest live rows against the training ``sample``."""
    limit = settings.drift_live_rows
    by_symbol = {s: newest_features(engine, s, limit) for s in live_symbols(engine)}
    pooled = newest_features(engine, None, limit)
    return drift_report(sample, by_symbol, pooled, ML_FEATURES, settings.drift_psi_threshold, settings.drift_min_rows)


def drift_rows(report: list[FeatureDrift], settings: Settings, version: str, sample_rows: int) -> list[dict[str, Any]]:
    now = utc_now()
    return [
        {
            "symbol": d.symbol,
            "feature": d.feature,
            "psi": d.psi,
            "flagged": d.flagged,
            "threshold": settings.drift_psi_threshold,
            "live_rows": d.live_rows,
            "sample_rows": sample_rows,
            "reference": d.reference,
            "model_version": version,
            "computed_at": now,
        }
        for d in report
    ]


@dataclass
class DriftCheck:
    """One worker's periodic drift check; remembers the training sample of the version in use."""

    rt: Runtime
    models: Retrainer
    _samples: dict[str, TrainingSample | None] = field(default_factory=dict)
    _retrained_for: str | None = None

    async def run(self) -> list[FeatureDrift] | None:
        """Measure, store and act on drift; None when there is nothing to compare (no models or no sample)."""
        signals = self.rt.signals
        bundle: ModelBundle | None = signals.bundle if signals is not None else None
        if self.rt.settings.drift_every_s <= 0 or bundle is None:
            return None
        try:
            report = await self.rt.offload(self._measure_and_store, bundle)
        except SQLAlchemyError as exc:  # the database down must not stop the worker's timer
            log.warning("drift check skipped: %s", getattr(exc, "orig", exc))
            return None
        if report:
            self._maybe_retrain(bundle.version, report)
        return report

    def _measure_and_store(self, bundle: ModelBundle) -> list[FeatureDrift] | None:
        """(Executor) the check itself: sample, PSI, table."""
        reference = self._sample_of(bundle)
        if reference is None:
            return None
        settings = self.rt.settings
        report = measure_drift(self.rt.db, reference, settings)
        db.replace_drift(self.rt.db, drift_rows(report, settings, bundle.version, len(reference)))
        return report

    def _sample_of(self, bundle: ModelBundle) -> TrainingSample | None:
        """The version's training sample, read once; None (said once) for a version without a usable one."""
        if bundle.version not in self._samples:
            try:
                sample = load_training_sample(bundle)
            except ArtifactError as exc:
                log.error("drift check off for models version %s: %s", bundle.version, exc)
                sample = None
            if sample is None and "training_sample" not in bundle.manifest:
                log.warning(
                    "models version %s has no training sample (trained before drift was measured): "
                    "no drift check until a retrain",
                    bundle.version,
                )
            self._samples = {bundle.version: sample}  # only the version in use is kept
        return self._samples[bundle.version]

    def _maybe_retrain(self, version: str, report: list[FeatureDrift]) -> None:
        flagged = pooled_drift_flagged(report)
        if not flagged:
            return
        worst = max((d for d in report if d.symbol == POOLED and d.flagged), key=lambda d: d.psi)
        log.warning(
            "feature drift on models version %s: pooled PSI above %g for %s (worst %s %.3f)",
            version,
            self.rt.settings.drift_psi_threshold,
            ", ".join(flagged),
            worst.feature,
            worst.psi,
        )
        if self.rt.settings.retrain_on_drift and self._retrained_for != version:
            self._retrained_for = version
            self.models.request_retrain(f"drift on {', '.join(flagged)}")


def drift_table_rows(engine: Engine, symbol: str | None = None) -> list[dict[str, Any]]:
    """The stored check, for the web view: flagged first, then by PSI (largest first)."""
    d = db.feature_drift
    stmt = select(d).order_by(d.c.flagged.desc(), d.c.psi.desc())
    if symbol:
        stmt = stmt.where(d.c.symbol == symbol)
    with engine.connect() as conn:
        return [_jsonable(dict(row._mapping)) for row in conn.execute(stmt)]


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
