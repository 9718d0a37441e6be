"""Prediction stage: four models and five rules per batch, live scoreboard, database rows.

Reads: feature rows from the indicator stage (a whole ``take_events`` batch at once)
and the newest valid model artifacts. Writes: ``predictions`` and ``scoreboard`` rows
(one transaction per batch, idempotent) and the scoreboard states it is handed.
Models and the database run in an executor, never on the event loop. With no
artifacts the model columns say TRAINING while a model is trained from the history
in the database in a separate process; ``FLAMEBACK_RETRAIN_EVERY_S`` retrains on a
schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from signal import SIG_DFL, SIGINT, SIGKILL, SIGTERM
from signal import signal as set_signal_handler
from typing import Any, TypeVar

from faust.types import EventT
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from flameback_app import db
from flameback_app.faust_app import app, runtime, settings
from flameback_app.records import utc_from_epoch, utc_now
from flameback_app.runtime import Runtime
from models.live import SignalEngine
from models.registry import ModelBundle, load_latest, log_tick_spacing
from models.scoreboard import new_score_state, pooled_rows, score_tick, scoreboard_rows

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
MIN_TRAINING_ROWS = 2000
T = TypeVar("T")


async def predict_and_store(rt: Runtime, applied: Sequence[tuple[EventT, dict]], scores: dict[str, Any]) -> None:
    """Signals for every row, score the previous signals, commit rows + scoreboard in one transaction.

    ``scores`` maps symbol → scoreboard state (None if new); it is updated in place so
    the caller can store it in the table after the database commit.
    """
    engine = await _signal_engine(rt)
    rows = [row for _event, row in applied]
    signals = await rt.offload(engine.predict, rows)
    now = utc_now()
    wall = time.time()
    db_rows = []
    for (event, row), signal in zip(applied, signals, strict=True):
        symbol = row["symbol"]
        scores[symbol] = score_tick(scores.get(symbol) or new_score_state(), row["current_price"], signal)
        db_rows.append(_db_row(row, signal, now, wall, event.message.timestamp))
    board = [r for symbol, state in scores.items() for r in scoreboard_rows(symbol, state, now)]
    written = await _write_until_stored(rt, db_rows, board)
    rt.counters.rows_written += written
    stored = time.time()
    for event, _row in applied:
        if event.message.timestamp:
            rt.metrics.latency.observe(stored - event.message.timestamp)
    rt.counters.last_tick_time = wall


def _db_row(row: dict, signal: dict, now: Any, wall: float, ingest_ts: float | None) -> dict:
    out = {**row, **signal, "processing_time": now}
    if ingest_ts:
        out["ingest_time"] = utc_from_epoch(ingest_ts)
        out["latency_ms"] = (wall - ingest_ts) * 1000.0
    return out


async def _write_until_stored(rt: Runtime, rows: list[dict], board: list[dict]) -> int:
    """Commit the batch's rows, then its scoreboard, each retried with backoff for as long as the database refuses.

    Short lock waits are absorbed inside :mod:`flameback_app.db`; what reaches here is a
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
    log.error("database write failed (%s); attempt %d, next in %.0fs; the batch stays unacknowledged until stored",
              reason, state.attempt_number, state.upcoming_sleep)  # fmt: skip


async def _signal_engine(rt: Runtime) -> SignalEngine:
    """The live signal engine, loading the newest valid artifacts on first use."""
    if rt.signals is None:
        bundle = await _load_models(rt)
        rt.signals = SignalEngine(bundle, abstain_below=settings.abstain_below)
        if bundle is None:
            log.warning("no valid models in %s: model columns say TRAINING until one is trained "
                        "from the history in the database", settings.models_dir)  # fmt: skip
        else:
            log.info("loaded models version %s", rt.signals.model_version)
        rt.counters.models_loaded(bundle is not None)
    return rt.signals


async def _load_models(rt: Runtime) -> ModelBundle | None:
    """The newest verified model version, recorded in the database's ``model_registry``."""
    bundle = await rt.offload(partial(load_latest, settings.models_dir,
                                      extra_trusted=settings.extra_trusted_model_types))  # fmt: skip
    if bundle is not None:
        manifest = bundle.manifest
        rt.counters.tick_spacing_mismatch(log_tick_spacing(manifest, settings.periods_per_year).warning is not None)
        try:
            await rt.offload(db.register_model, rt.db, bundle.version, datetime.fromisoformat(manifest["created"]),
                             str(bundle.path), json.dumps(manifest.get("metrics", {}), default=str))  # fmt: skip
        except SQLAlchemyError as exc:  # an audit record; the database being down is no reason not to predict
            log.warning("could not record model version %s in model_registry (%s)", bundle.version,
                        getattr(exc, "orig", exc))  # fmt: skip
    return bundle


@app.task
async def load_models_at_start() -> None:
    """Load (and verify) the model artifacts when the worker starts, not on the first batch."""
    await _signal_engine(runtime)


_training: asyncio.Future | None = None
_last_trained = 0.0
TRAINING_CHECK_S = 5.0  # how often the worker looks whether it has history enough for its first models


@app.timer(interval=TRAINING_CHECK_S)
async def train_when_needed() -> None:
    """Train from the database as soon as there is history enough for a first model, and on the retrain schedule.

    Without models (a first run) the worker counts its labelled, fully warmed-up rows
    every few seconds and publishes how many it has and needs (the terminal shows
    it), so the first real model call comes as early as the history allows.
    """
    global _training, _last_trained
    if runtime.signals is None or (_training is not None and not _training.done()):
        return
    due = settings.retrain_every_s > 0 and time.time() - _last_trained >= settings.retrain_every_s
    if runtime.signals.model_version is not None and not due:
        return
    if runtime.signals.model_version is None:
        try:
            available = await runtime.offload(db.count_complete_rows, runtime.db)
        except SQLAlchemyError as exc:  # database down: an exception escaping a timer would stop the worker
            log.warning("cannot count the training history (%s); retrying in %.0fs", getattr(exc, "orig", exc),
                        TRAINING_CHECK_S)  # fmt: skip
            return
        runtime.counters.training_progress(available, MIN_TRAINING_ROWS)
        if available < MIN_TRAINING_ROWS:
            return
    loop = asyncio.get_running_loop()
    log.info("training models from the database history in the background")
    runtime.counters.training_started()
    with ProcessPoolExecutor(max_workers=1, initializer=_training_child_init) as pool:
        _training = loop.run_in_executor(
            pool, partial(train_from_database, settings.db_url, settings.models_dir, settings.periods_per_year,
                          extra_trusted=settings.extra_trusted_model_types, calibration=settings.calibration),
        )
        try:
            version_dir = await _training
        except ValueError as exc:  # too little labelled history yet: expected early on
            log.info("not training yet: %s; retrying in %.0fs", exc, TRAINING_CHECK_S)
            return
        except Exception:  # a failed training must not take the worker down; it is retried later
            log.exception("background training failed")
            return
        finally:
            _last_trained = time.time()
            runtime.counters.training_finished()
    if version_dir is None:
        log.info("not enough labelled history yet (< %d rows) to train; retrying later", MIN_TRAINING_ROWS)
        return
    bundle = await _load_models(runtime)
    runtime.signals.swap(bundle)
    runtime.counters.models_loaded(bundle is not None)
    log.info("now predicting with models version %s", runtime.signals.model_version)


def _training_child_init() -> None:
    """(Training child, forked from the worker) undo what it inherited that belongs to the worker.

    - The parent's pooled database connections are forgotten, not closed: their sockets
      are the worker's (closing one, PostgreSQL sends Terminate and ends the worker's
      session under it). The child opens its own.
    - SIGTERM/SIGINT get their default action back: the child inherited the worker's
      event-loop handlers, which only write to the worker's wakeup pipe, so a stop
      signal to the process group left it running.
    - It dies with the worker (``PR_SET_PDEATHSIG``): a worker killed mid-training left
      its pool process waiting for the next job forever (seen: orphans after test runs).
    """
    runtime.release_database_in_child()
    for sig in (SIGTERM, SIGINT):
        set_signal_handler(sig, SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the first two still hold
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, SIGKILL)
    if os.getppid() == 1:  # the worker died before prctl took effect
        os._exit(0)


def train_from_database(db_url: str, models_dir: Path, periods_per_year: float,
                        extra_trusted: Sequence[str] = (), calibration: str = "sigmoid") -> Path | None:  # fmt: skip
    """(Child process) read the feature history from the database and train a new version.

    ``periods_per_year``: the worker's setting, which its stored volatility_20 was annualised with.
    ``extra_trusted``: FLAMEBACK_TRUSTED_MODEL_TYPES, checked when the version is saved.
    ``calibration``: FLAMEBACK_CALIBRATION.
    """
    import pandas as pd

    from models.train import train_and_save

    engine = db.make_engine(db_url)
    columns = ["symbol", "timestamp", "current_price", *db.FEATURE_COLUMNS]
    try:
        with engine.connect() as conn:
            frame = pd.read_sql(db.predictions.select().with_only_columns(
                *(db.predictions.c[c] for c in columns)), conn)  # fmt: skip
    finally:
        engine.dispose()
    if len(frame) < MIN_TRAINING_ROWS:
        return None
    return train_and_save(frame, models_dir, periods_per_year=periods_per_year, extra_trusted=extra_trusted,
                          calibration=calibration)


@app.timer(interval=2.0)
async def publish_counters() -> None:
    """Pipeline counters and the all-symbols scoreboard → database, for the terminal.

    Best effort: an exception escaping a Faust timer stops the whole worker, and a
    health figure that is late (the database is locked or unwritable) is no reason
    to stop processing ticks. The next tick of the timer tries again.
    """
    rate = runtime.counters.sample_rate()
    try:
        await runtime.offload(db.write_counters, runtime.db, runtime.counters.snapshot(rate), utc_now(),
                              settings.worker_id)  # fmt: skip
        await runtime.offload(_pool_scoreboard, runtime.db)
    except SQLAlchemyError as exc:
        log.warning("could not publish the pipeline counters (%s); retrying in 2s", getattr(exc, "orig", exc))


def _pool_scoreboard(engine: Engine) -> None:
    """Symbol "*" rows from every symbol's rows (whichever worker wrote them)."""
    board = db.scoreboard
    with engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(board.select().where(board.c.symbol != db.ALL_SYMBOLS))]
    db.upsert_scoreboard(engine, pooled_rows(rows, utc_now()))
