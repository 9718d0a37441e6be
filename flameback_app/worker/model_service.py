"""The live models' lifecycle in a worker: load the newest verified version, train from the database, swap.

Faust-free: the Faust layer (:mod:`flameback_app.tasks.schedules`) calls it from a start-up
task and a timer, and the prediction agent asks it for the signal engine. Model
loading and the database run in the runtime's executor, never on the event loop;
training runs in a child process (a first model as soon as the history allows, then
on ``FLAMEBACK_RETRAIN_EVERY_S``), and a failed or premature training never stops
the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from signal import SIG_DFL, SIGINT, SIGKILL, SIGTERM
from signal import signal as set_signal_handler
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from flameback_app.storage import db
from flameback_app.worker.runtime import Runtime
from models.live import SignalEngine
from models.registry import ModelBundle, load_latest, log_tick_spacing

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
MIN_TRAINING_ROWS = 2000
TRAINING_CHECK_S = 5.0  # how often the worker looks whether it has history enough for its first models


@dataclass
class ModelService:
    """One worker's models: the signal engine it predicts with, and the background training that replaces them."""

    rt: Runtime
    _training: asyncio.Future[Path | None] | None = None
    _last_trained: float = 0.0
    _retrain_reason: str | None = None  # set by request_retrain: the next check trains whatever the schedule says

    async def signal_engine(self) -> SignalEngine:
        """The live signal engine, loading the newest valid artifacts on first use."""
        rt, settings = self.rt, self.rt.settings
        if rt.signals is None:
            bundle = await self.load()
            rt.signals = SignalEngine(bundle, abstain_below=settings.abstain_below)
            if bundle is None:
                log.warning("no valid models in %s: model columns say TRAINING until one is trained "
                            "from the history in the database", settings.models_dir)  # fmt: skip
            else:
                log.info("loaded models version %s", rt.signals.model_version)
            rt.counters.models_loaded(bundle is not None)
        return rt.signals

    async def load(self) -> ModelBundle | None:
        """The newest verified model version, recorded in the database's ``model_registry``."""
        rt, settings = self.rt, self.rt.settings
        bundle = await rt.offload(partial(load_latest, settings.models_dir,
                                          extra_trusted=settings.model_trusted_types))  # fmt: skip
        if bundle is not None:
            for name, why in bundle.left_out.items():
                log.error("user model %r of version %s left out: %s; the other models carry on", name, bundle.version,
                          why)  # fmt: skip
            manifest = bundle.manifest
            mismatch = log_tick_spacing(manifest, settings.periods_per_year).warning is not None
            rt.counters.tick_spacing_mismatch(mismatch)
            try:
                await rt.offload(db.register_model, rt.db, bundle.version, datetime.fromisoformat(manifest["created"]),
                                 str(bundle.path), json.dumps(manifest.get("metrics", {}), default=str))  # fmt: skip
            except SQLAlchemyError as exc:  # an audit record; the database being down is no reason not to predict
                log.warning("could not record model version %s in model_registry (%s)", bundle.version,
                            getattr(exc, "orig", exc))  # fmt: skip
        return bundle

    def request_retrain(self, reason: str) -> None:
        """Train at the next check (``train_when_needed``) even if the schedule is off or not yet due (e.g. drift)."""
        self._retrain_reason = reason

    def _due(self) -> bool:
        every = self.rt.settings.retrain_every_s
        return self._retrain_reason is not None or (every > 0 and time.time() - self._last_trained >= every)

    async def _history_suffices(self) -> bool:
        """Without models: count the labelled, warmed-up rows and publish how many there are and are needed."""
        rt = self.rt
        try:
            available = await rt.offload(db.count_complete_rows, rt.db)
        except SQLAlchemyError as exc:  # database down: an exception escaping a timer would stop the worker
            log.warning("cannot count the training history (%s); retrying in %.0fs", getattr(exc, "orig", exc),
                        TRAINING_CHECK_S)  # fmt: skip
            return False
        rt.counters.training_progress(available, MIN_TRAINING_ROWS)
        return available >= MIN_TRAINING_ROWS

    async def train_when_needed(self) -> None:
        """Train from the database as soon as there is history enough for a first model, and on the retrain schedule.

        Without models (a first run) the worker counts its labelled, fully warmed-up rows
        every few seconds and publishes how many it has and needs (the terminal shows
        it), so the first real model call comes as early as the history allows.
        """
        rt = self.rt
        if rt.signals is None or (self._training is not None and not self._training.done()):
            return
        if rt.signals.model_version is not None and not self._due():
            return
        if rt.signals.model_version is None and not await self._history_suffices():
            return
        version_dir = await self._train_in_child()
        if version_dir is None:
            return
        bundle = await self.load()
        rt.signals.swap(bundle)
        rt.counters.models_loaded(bundle is not None)
        log.info("now predicting with models version %s", rt.signals.model_version)

    async def _train_in_child(self) -> Path | None:
        rt, settings = self.rt, self.rt.settings
        log.info("training models from the database history in the background%s",
                 f" ({self._retrain_reason})" if self._retrain_reason else "")  # fmt: skip
        self._retrain_reason = None
        rt.counters.training_started()
        # Forked on purpose: the child initializer undoes exactly what a fork inherits from the worker.
        fork = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=1, mp_context=fork, initializer=_training_child_init, initargs=(rt,)) as pool:
            self._training = asyncio.get_running_loop().run_in_executor(
                pool, partial(train_from_database, settings.db_url, settings.models_dir, settings.periods_per_year,
                              extra_trusted=settings.extra_trusted_model_types, calibration=settings.calibration,
                              user_models=settings.user_model_entries),
            )
            try:
                version_dir = await self._training
            except ValueError as exc:  # too little labelled history yet: expected early on
                log.info("not training yet: %s; retrying in %.0fs", exc, TRAINING_CHECK_S)
                return None
            except Exception:  # a failed training must not take the worker down; it is retried later
                log.exception("background training failed")
                return None
            finally:
                self._last_trained = time.time()
                rt.counters.training_finished()
        if version_dir is None:
            log.info("not enough labelled history yet (< %d rows) to train; retrying later", MIN_TRAINING_ROWS)
        return version_dir


def _training_child_init(rt: Runtime) -> None:
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
    rt.release_database_in_child()
    for sig in (SIGTERM, SIGINT):
        set_signal_handler(sig, SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the first two still hold
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, SIGKILL)
    if os.getppid() == 1:  # the worker died before prctl took effect
        os._exit(0)


def train_from_database(db_url: str, models_dir: Path, periods_per_year: float,
                        extra_trusted: Sequence[str] = (), calibration: str = "sigmoid",
                        sample_rows: int = 10_000, user_models: Mapping[str, Any] | None = None) -> Path | None:  # fmt: skip
    """(Child process) read the feature history from the database and train a new version.

    ``periods_per_year``: the worker's setting, which its stored volatility_20 was annualised with.
    ``extra_trusted``: FLAMEBACK_TRUSTED_MODEL_TYPES, checked when the version is saved.
    ``calibration``: FLAMEBACK_CALIBRATION. ``sample_rows``: FLAMEBACK_DRIFT_SAMPLE_ROWS.
    ``user_models``: FLAMEBACK_USER_MODELS entries, trained beside the four (one failing is left out, logged).
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
                          calibration=calibration, sample_rows=sample_rows, user_models=user_models)
