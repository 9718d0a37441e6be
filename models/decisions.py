"""Champion/challenger settings and decisions: plain values, importable without scikit-learn.

The worker (:mod:`flameback_app.worker.model_service`) and the ``models`` command pass and
record these; the training and the comparison that produce them live in
:mod:`models.champion`, loaded only in the training process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from models.features import DEFAULT_PERIODS_PER_YEAR

Metric = Literal["accuracy", "brier", "log_loss"]
METRICS: tuple[str, ...] = ("accuracy", "brier", "log_loss")
MIN_BLOCK_TIMESTAMPS = 20  # fewer and a t-interval over timestamps says little; wait for more history
PROMOTING_ACTIONS = ("promoted", "first", "manual", "rollback")


class NotEnoughNewHistory(ValueError):
    """Too little history after the champion's training span to hold a fair challenge yet."""


@dataclass(frozen=True)
class ChallengeSettings:
    """FLAMEBACK_CHAMPION_METRIC, FLAMEBACK_CHAMPION_MARGIN, FLAMEBACK_CHALLENGE_BLOCK and the training protocol."""

    metric: Metric = "accuracy"
    margin: float = 0.0
    block_fraction: float = 0.2
    embargo: int = 5
    folds: int = 5
    cost_bp: float = 2.0
    calibration: str = "sigmoid"
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR
    extra_trusted: Sequence[str] = ()
    sample_rows: int = 10_000  # FLAMEBACK_DRIFT_SAMPLE_ROWS: the training sample kept beside the manifest
    user_models: Mapping[str, Any] | None = None  # FLAMEBACK_USER_MODELS entries, trained beside the four


@dataclass(frozen=True)
class Decision:
    """One champion/challenger outcome, as recorded in ``model_decisions`` and shown in the terminal."""

    version: str
    champion: str | None
    action: str  # promoted | rejected | first | manual | rollback
    reason: str
    metric: str | None = None
    champion_score: float | None = None
    challenger_score: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    margin: float | None = None
    n_rows: int | None = None
    block_start: datetime | None = None
    block_end: datetime | None = None
    decided_at: datetime | None = None

    @property
    def promoted(self) -> bool:
        return self.action in PROMOTING_ACTIONS

    def row(self) -> dict[str, Any]:
        """The ``model_decisions`` row (naive UTC datetimes, as the rest of the schema stores them)."""
        row = asdict(self)
        for key in ("block_start", "block_end", "decided_at"):
            if row[key] is not None and row[key].tzinfo is not None:
                row[key] = row[key].astimezone(UTC).replace(tzinfo=None)
        return row

    def line(self) -> str:
        """One line for logs and the ``train``/``models`` commands."""
        return f"{self.action}: {self.version} (champion before: {self.champion or 'none'}) — {self.reason}"


def manual(version: str, champion: str | None, action: str, reason: str) -> Decision:
    """A decision made by hand (``models promote`` / ``models rollback``), stamped now."""
    return Decision(version, champion, action, reason, decided_at=datetime.now(UTC))
