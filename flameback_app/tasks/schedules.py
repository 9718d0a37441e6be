"""The worker's schedules (Faust layer): model loading at start, training checks, health publishing.

Each is a Faust task or timer that calls the Faust-free module owning the work:
:mod:`flameback_app.worker.model_service` and :mod:`flameback_app.worker.health_publisher`.
"""

from __future__ import annotations

from flameback_app.faust_app import app, model_service, runtime
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
