"""The worker's schedules (Faust layer): model loading at start, training checks, drift, health publishing, alert rules.

Each is a Faust task or timer that calls the Faust-free module owning the work:
:mod:`flameback_app.worker.model_service`, :mod:`flameback_app.worker.drift_check`,
:mod:`flameback_app.worker.health_publisher` and :mod:`flameback_app.worker.alert_service`.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from flameback_app.faust_app import alert_service, app, model_service, runtime, settings
from flameback_app.storage import db
from flameback_app.worker.drift_check import DriftCheck
from flameback_app.worker.health_publisher import PUBLISH_EVERY_S, publish_counters
from flameback_app.worker.model_service import TRAINING_CHECK_S

log = logging.getLogger(__name__)


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


@app.task
async def load_alert_rules_at_start() -> None:
    """The rule file's and the terminal's alert rules from the first tick on (the timer first runs an interval later)."""
    alert_service.load_file_rules()
    await read_terminal_alert_rules()


@app.timer(interval=settings.alert_rules_refresh_s)
async def refresh_alert_rules() -> None:
    await read_terminal_alert_rules()


async def read_terminal_alert_rules() -> None:
    """Pick up the rules added in the terminal: one small query per interval (evaluation reads no database)."""
    try:
        rows = await runtime.offload(db.enabled_alert_rules, runtime.db)
    except SQLAlchemyError as exc:  # the write path reports a failing database; the rules in force stay
        log.warning("alert rules not refreshed: %s", " ".join(str(getattr(exc, "orig", exc)).split())[:200])
        return
    alert_service.use_terminal_rules(rows)
