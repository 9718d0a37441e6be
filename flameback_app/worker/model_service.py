"""The live models' lifecycle in a worker: load the promoted version, retrain a challenger, swap on promotion.

Faust-free: the Faust layer (:mod:`flameback_app.tasks.schedules`) calls it from a start-up
task and a timer, and the prediction agent asks it for the signal engine. Model
loading and the database run in the runtime's executor, never on the event loop;
training runs in a child process (a first model as soon as the history allows, then
on ``FLAMEBACK_RETRAIN_EVERY_S``), and a failed or premature training never stops
the worker. A retrained version is a challenger (:mod:`models.champion`): the worker
swaps to it only when it was promoted, and records every decision in
``model_decisions``. A version promoted or rolled back by hand (the ``models``
command) is picked up on the next training check.
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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from signal import SIG_DFL, SIGINT, SIGKILL, SIGTERM
from signal import signal as set_signal_handler
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from flameback_app.storage import db
from flameback_app.worker.runtime import Runtime
from models.decisions import ChallengeSettings, Decision
from models.live import SignalEngine
from models.registry import ArtifactError, ModelBundle, champion, load_latest, log_tick_spacing, promote

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
MIN_TRAINING_ROWS = 2000
TRAINING_CHECK_S = 5.0  # how often the worker looks whether it has history enough for its first models


@dataclass
class ModelService:
    """One worker's models: the signal engine it predicts with, and the background training that replaces them."""

    rt: Runtime
    _training: asyncio.Future[Decision | None] | None = None
    _last_trained: float = 0.0
    _retrain_reason: str | None = None  # set by request_retrain: the next check trains whatever the schedule says
    _followed: str | None = None  # the last champion name the worker switched (or tried to switch) to

    async def signal_engine(self) -> SignalEngine:
        """The live signal engine, loading the newest valid artifacts on first use."""
        rt, settings = self.rt, self.rt.settings
        if rt.signals is None:
            bundle = await self.load()
            rt.signals = SignalEngine(bundle, abstain_below=settings.abstain_below)
            if bundle is None:
                log.warning(
                    "no valid models in %s: model columns say TRAINING until one is trained "
                    "from the history in the database",
                    settings.models_dir,
                )
            else:
                log.info("loaded models version %s", rt.signals.model_version)
            rt.counters.models_loaded(bundle is not None)
        return rt.signals

    async def load(self) -> ModelBundle | None:
        """The newest verified model version, recorded in the database's ``model_registry``."""
        rt, settings = self.rt, self.rt.settings
        bundle = await rt.offload(partial(load_latest, settings.models_dir, extra_trusted=settings.model_trusted_types))
        if bundle is not None:
            for name, why in bundle.left_out.items():
                log.error(
                    "user model %r of version %s left out: %s; the other models carry on", name, bundle.version, why
                )
            await self._promote_first(bundle)
            manifest = bundle.manifest
            mismatch = log_tick_spacing(manifest, settings.periods_per_year).warning is not None
            rt.counters.tick_spacing_mismatch(mismatch)
            try:
                await rt.offload(
                    db.register_model,
                    rt.db,
                    bundle.version,
                    datetime.fromisoformat(manifest["created"]),
                    str(bundle.path),
                    json.dumps(manifest.get("metrics", {}), default=str),
                )
            except SQLAlchemyError as exc:  # an audit record; the database being down is no reason not to predict
                log.warning(
                    "could not record model version %s in model_registry (%s)",
                    bundle.version,
                    getattr(exc, "orig", exc),
                )
        return bundle

    def request_retrain(self, reason: str) -> None:
        """Train at the next check (``train_when_needed``) even if the schedule is off or not yet due (e.g. drift)."""
        self._retrain_reason = reason

    async def _promote_first(self, bundle: ModelBundle) -> None:
        """First run (nothing promoted yet): the first valid version becomes the champion, and that is recorded."""
        rt = self.rt
        try:
            if await rt.offload(champion, rt.settings.models_dir) is not None:
                return
            await rt.offload(promote, rt.settings.models_dir, bundle.version)
        except ArtifactError as exc:
            log.error("could not promote models version %s: %s", bundle.version, exc)
            return
        await self._record(
            Decision(
                bundle.version,
                None,
                "first",
                "no champion yet: the first valid version is promoted",
                decided_at=datetime.now(UTC),
            )
        )

    async def _record(self, decision: Decision) -> None:
        """Log the decision and append it to ``model_decisions`` (a database outage only costs the record)."""
        log.info("models: %s", decision.line())
        try:
            await self.rt.offload(db.record_decision, self.rt.db, decision.row())
        except SQLAlchemyError as exc:
            log.warning(
                "could not record the decision on %s in model_decisions (%s)",
                decision.version,
                getattr(exc, "orig", exc),
            )

    async def follow_promotions(self) -> None:
        """Swap to the champion when it changed under the worker (``models promote``/``rollback``, another worker)."""
        rt = self.rt
        if rt.signals is None or rt.signals.model_version is None:
            return
        try:
            live = await rt.offload(champion, rt.settings.models_dir)
        except ArtifactError as exc:
            log.error("%s; keeping models version %s", exc, rt.signals.model_version)
            return
        if live is not None and live != rt.signals.model_version and live != self._followed:
            self._followed = live  # once per change: a champion that fails to verify is not reloaded every check
            await self._swap_to_champion()

    async def _swap_to_champion(self) -> None:
        engine = await self.signal_engine()
        bundle = await self.load()
        if bundle is None:
            return
        engine.swap(bundle)
        self.rt.counters.models_loaded(True)
        log.info("now predicting with models version %s", engine.model_version)

    def _due(self) -> bool:
        every = self.rt.settings.retrain_every_s
        return self._retrain_reason is not None or (every > 0 and time.time() - self._last_trained >= every)

    async def _history_suffices(self) -> bool:
        """Without models: count the labelled, warmed-up rows and publish how many there are and are needed."""
        rt = self.rt
        try:
            available = await rt.offload(db.count_complete_rows, rt.db)
        except SQLAlchemyError as exc:  # database down: an exception escaping a timer would stop the worker
            log.warning(
                "cannot count the training history (%s); retrying in %.0fs", getattr(exc, "orig", exc), TRAINING_CHECK_S
            )
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
        await self.follow_promotions()
        if rt.signals.model_version is not None and not self._due():
            return
        if rt.signals.model_version is None and not await self._history_suffices():
            return
        decision = await self._train_in_child()
        if decision is None:
            return
        await self._record(decision)
        if decision.promoted:  # a rejected challenger stays on disk; the worker keeps its champion
            await self._swap_to_champion()

    def _challenge_settings(self) -> ChallengeSettings:
        s = self.rt.settings
        return ChallengeSettings(
            metric=s.champion_metric,
            margin=s.champion_margin,
            block_fraction=s.challenge_block,
            calibration=s.calibration,
            periods_per_year=s.periods_per_year,
            extra_trusted=s.model_trusted_types,
            sample_rows=s.drift_sample_rows,
            user_models=s.user_model_entries,
        )

    async def _train_in_child(self) -> Decision | None:
        rt, settings = self.rt, self.rt.settings
        log.info(
            "training models from the database history in the background%s",
            f" ({self._retrain_reason})" if self._retrain_reason else "",
        )
        self._retrain_reason = None
        rt.counters.training_started()
        # Forked on purpose: the child initializer undoes exactly what a fork inherits from the worker.
        fork = multiprocessing.get_context("fork")
        initargs = (rt, settings.training_nice, settings.training_threads)
        with ProcessPoolExecutor(
            max_workers=1, mp_context=fork, initializer=_training_child_init, initargs=initargs
        ) as pool:
            self._training = asyncio.get_running_loop().run_in_executor(
                pool,
                partial(
                    challenge_from_database,
                    settings.db_url,
                    settings.models_dir,
                    self._challenge_settings(),
                    settings.training_threads,
                ),
            )
            try:
                decision = await self._training
            except ValueError as exc:  # too little labelled history yet: expected early on
                log.info("not training yet: %s; retrying in %.0fs", exc, TRAINING_CHECK_S)
                return None
            except Exception:  # a failed training must not take the worker down; it is retried later
                log.exception("background training failed")
                return None
            finally:
                self._last_trained = time.time()
                rt.counters.training_finished()
        if decision is None:
            log.info("not enough labelled history yet (< %d rows) to train; retrying later", MIN_TRAINING_ROWS)
        return decision


def lower_priority(nice: int, threads: int) -> None:
    """Make this (training) process yield to the live path: ``nice`` added to its niceness, ``threads`` at most.

    The thread cap covers the native pools already loaded or loaded later (OpenMP,
    BLAS: threadpoolctl) and the environment variables a library reads when it starts
    its pool; XGBoost's and RandomForest's own ``n_jobs`` are passed to the models.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # ships no type information

    if nice:
        os.nice(nice)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    threadpool_limits(limits=threads)


def _training_child_init(rt: Runtime, nice: int = 0, threads: int = 1) -> None:
    """(Training child, forked from the worker) undo what it inherited that belongs to the worker.

    - The parent's pooled database connections are forgotten, not closed: their sockets
      are the worker's (closing one, PostgreSQL sends Terminate and ends the worker's
      session under it). The child opens its own.
    - SIGTERM/SIGINT get their default action back: the child inherited the worker's
      event-loop handlers, which only write to the worker's wakeup pipe, so a stop
      signal to the process group left it running.
    - It dies with the worker (``PR_SET_PDEATHSIG``): a worker killed mid-training left
      its pool process waiting for the next job forever (seen: orphans after test runs).
    - It runs at a lower priority with bounded threads (:func:`lower_priority`), so the
      worker keeps its throughput while a retrain runs.
    """
    rt.release_database_in_child()
    for sig in (SIGTERM, SIGINT):
        set_signal_handler(sig, SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the first two still hold
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, SIGKILL)
    if os.getppid() == 1:  # the worker died before prctl took effect
        os._exit(0)
    lower_priority(nice, threads)


def read_training_frame(db_url: str) -> pd.DataFrame:
    """(Child process) the feature history in the database: what training and the challenge block use."""
    import pandas as pd

    engine = db.make_engine(db_url)
    columns = ["symbol", "timestamp", "current_price", *db.FEATURE_COLUMNS]
    try:
        with engine.connect() as conn:
            return pd.read_sql(db.predictions.select().with_only_columns(*(db.predictions.c[c] for c in columns)), conn)
    finally:
        engine.dispose()


def challenge_from_database(
    db_url: str, models_dir: Path, settings: ChallengeSettings, threads: int = 2
) -> Decision | None:
    """(Child process) train a challenger from the database history against the promoted champion.

    Returns the decision (promoted or rejected; "first" when there was no champion), or
    None when the history is still too short to train at all. Raises
    :class:`models.champion.NotEnoughNewHistory` (a ValueError) when the history does not
    reach far enough past the champion's training span yet.
    """
    from models.champion import challenge
    from models.train import make_models

    frame = read_training_frame(db_url)
    if len(frame) < MIN_TRAINING_ROWS:
        return None
    live = load_latest(models_dir, extra_trusted=settings.extra_trusted)
    return challenge(frame, models_dir, live, settings, model_factory=partial(make_models, n_jobs=threads))
