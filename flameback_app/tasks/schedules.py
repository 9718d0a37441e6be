"""The worker's schedules (Faust layer): model loading at start, training checks, drift, health publishing.

Each is a Faust task or timer that calls the Faust-free module owning the work:
:mod:`flameback_app.worker.model_service`, :mod:`flameback_app.worker.drift_check` and
:mod:`flameback_app.worker.health_publisher`.
"""

from __future__ import annotations

from flameback_app.faust_app import app, model_service, runtime, settings
from flameback_app.worker.drift_check import DriftCheck
from flameback_app.worker.health_publisher import PUBLISH_EVERY_S, publish_counters
from flameback_app.worker.model_service import TRAINING_CHECK_S


@app.task
async def load_models_at_start() -> None:
    """Load (and verify) the model artifacts when the worker starts, not on the first batch."""
    await model_service.signal_engine()


@app.timer(interval=TRAINING_CHECK_S)
async def train_when_needed() -> None:
    await model_service.train_when_needed()


@app.timer(interval=PUBLISH_EVERY_S)
async def publish_health() -> None:
    await publish_counters(runtime)


drift_check = DriftCheck(runtime, model_service)


@app.timer(interval=settings.drift_every_s or 3600.0)  # 0 (off): the timer still ticks, and run() returns at once
async def check_drift() -> None:
    await drift_check.run()
