"""Pipeline counters of one worker process (pure, in memory).

The agents increment them; a timer publishes a snapshot to the database for the
terminal's health panel, and the ``/counters/`` web view serves them. They are
per process and restart from zero with the worker (the database rows are the
durable record of what was processed).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PipelineCounters:
    """Counts of what happened to ticks, plus a ticks/s rate over a sliding window."""

    processed: int = 0
    stale: int = 0
    forwarded: int = 0
    rows_written: int = 0
    db_write_failures: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    last_tick_time: float | None = None
    training: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    _samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=30))

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    def sample_rate(self, now: float | None = None) -> float:
        """Record (time, processed) and return ticks/s over the last samples."""
        now = time.time() if now is None else now
        self._samples.append((now, self.processed))
        if len(self._samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def training_progress(self, available: int, needed: int) -> None:
        """How much labelled history the first models have, and need (shown while models say TRAINING)."""
        self.training.update(training_rows=available, training_rows_needed=needed)

    def models_loaded(self, loaded: bool) -> None:
        self.training["models_loaded"] = int(loaded)

    def tick_spacing_mismatch(self, mismatch: bool) -> None:
        """1 while the loaded models were trained on another FLAMEBACK_PERIODS_PER_YEAR (the worker logged why)."""
        self.training["models_tick_spacing_mismatch"] = int(mismatch)

    def training_started(self) -> None:
        self.training["training_active"] = 1

    def training_finished(self) -> None:
        self.training["training_active"] = 0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def snapshot(self, rate: float) -> dict[str, Any]:
        """Flat figures, named as the terminal reads them from ``pipeline_counters``."""
        figures: dict[str, Any] = {
            "ticks_processed": self.processed,
            "ticks_per_s": rate,
            "rejected_total": self.rejected_total,
            "stale_total": self.stale,
            "same_timestamp_total": self.rejected["same_timestamp"],
            "forwarded_total": self.forwarded,
            "rows_written": self.rows_written,
            "db_write_failures": self.db_write_failures,
            "worker_started": self.started,
        }
        if self.last_tick_time is not None:
            figures["last_tick_time"] = self.last_tick_time
        figures.update({f"rejected_{reason}": n for reason, n in self.rejected.items()})
        figures.update(self.training)
        return figures
