"""Prediction stage: four models and five rules per batch, live scoreboard, database rows.

Reads: feature rows from the indicator stage (a whole ``take_events`` batch at once)
and the newest valid model artifacts. Writes: ``predictions`` and ``scoreboard`` rows
(one transaction per batch, idempotent), the scoreboard states it is handed, and the
``alerts`` the rows fire (:mod:`flameback_app.worker.alert_service`), stored after their rows.
Models and the database run in an executor, never on the event loop. The signal
engine (and its models, their loading and retraining) comes from
:mod:`flameback_app.worker.model_service`; this module holds the stream's write path only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from faust.types import EventT
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from flameback_app.core.records import FeatureRow, Signals, utc_from_epoch, utc_now
from flameback_app.faust_app import alert_service, model_service, runtime
from flameback_app.storage import db
from flameback_app.worker.runtime import Runtime
from models.scoreboard import new_score_state, score_tick, scoreboard_rows

log = logging.getLogger(__name__)
T = TypeVar("T")


async def predict_and_store(rt: Runtime, applied: Sequence[tuple[EventT, FeatureRow]], scores: dict[str, Any]) -> None:
    """Signals for every row, score the previous signals, commit rows + scoreboard in one transaction.

    ``scores`` maps symbol → scoreboard state (None if new); it is updated in place so
    the caller can store it in the table after the database commit.
    """
    engine = await model_service.signal_engine()
    columns = [row.columns() for _event, row in applied]
    signals = await rt.offload(engine.predict, columns)
    now = utc_now()
    wall = time.time()
    db_rows, alerts = [], []
    for (event, row), features, signal in zip(applied, columns, signals, strict=True):
        scores[row.symbol] = score_tick(scores.get(row.symbol) or new_score_state(), row.current_price, signal.calls)
        db_rows.append(_db_row(features, signal, now, wall, event.message.timestamp))
        alerts += alert_service.evaluate(db_rows[-1], scores[row.symbol])
    board = [r for symbol, state in scores.items() for r in scoreboard_rows(symbol, state, now)]
    written = await _write_until_stored(rt, db_rows, board)
    if alerts:  # stored after their rows, so an alert never points at a row that is not there
        await _until_stored(rt, db.insert_alerts, alert_service.rows(alerts, now))
        alert_service.fired(alerts, now)
    rt.counters.rows_written += written
    stored = time.time()
    for event, _row in applied:
        if event.message.timestamp:
            rt.metrics.latency.observe(stored - event.message.timestamp)
    rt.counters.last_tick_time = wall


def _db_row(features: dict[str, Any], signals: Signals, now: Any, wall: float, ingest_ts: float | None) -> dict:
    """The ``predictions`` row: the feature columns, the signal columns, when it was processed and its latency."""
    out = {**features, **signals.columns(), "processing_time": now}
    if ingest_ts:
        out["ingest_time"] = utc_from_epoch(ingest_ts)
        out["latency_ms"] = (wall - ingest_ts) * 1000.0
    return out


async def _write_until_stored(rt: Runtime, rows: list[dict], board: list[dict]) -> int:
    """Commit the batch's rows, then its scoreboard, each retried with backoff for as long as the database refuses.

    Short lock waits are absorbed inside :mod:`flameback_app.storage.db`; what reaches here is a
    database that stays unwritable (read-only file, full disk, server down). The batch
    is not acknowledged until it is stored, so Kafka keeps it; the worker logs why, backs
    off up to a minute between attempts, and keeps heartbeating instead of spinning.

    The two are retried apart so that rows stored before a scoreboard write failed are
    counted (retrying both, the second insert found them there and counted 0: seen as
    ``rows_written`` 24 short after a PostgreSQL outage mid-replay).
    """
    written = await _until_stored(rt, db.insert_predictions, rows)
    if board:
        await _until_stored(rt, db.upsert_scoreboard, board)
    return written


async def _until_stored(rt: Runtime, write: Callable[[Engine, list[dict]], T], rows: list[dict]) -> T:
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(SQLAlchemyError),
        wait=wait_exponential(multiplier=0.5, max=60),
        before_sleep=_log_write_failure,
    ):
        with attempt:
            result = await rt.offload(write, rt.db, rows)
            rt.health.write_succeeded()
            return result
    raise AssertionError("unreachable: AsyncRetrying retries forever")


def _log_write_failure(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    reason = " ".join(str(getattr(exc, "orig", exc)).split())  # psycopg's messages span lines
    runtime.health.write_failed(reason)
    runtime.counters.db_write_failures += 1
    log.error(
        "database write failed (%s); attempt %d, next in %.0fs; the batch stays unacknowledged until stored",
        reason,
        state.attempt_number,
        state.upcoming_sleep,
    )
