"""Process-wide resources the agents share: database engine, counters, signal engine, executor.

One :class:`Runtime` per worker process, created from the settings at the entry
point. The lock serialises batch processing between the two agents that can
advance a symbol's state (``ingest`` for co-partitioned ticks, ``indicators`` for
re-keyed ones), so a batch never reads a row another batch is about to replace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine

from flameback_app.settings import Settings
from flameback_app.storage.db import make_engine
from flameback_app.worker.counters import PipelineCounters
from flameback_app.worker.health import WorkerHealth
from flameback_app.worker.metrics import Metrics

if TYPE_CHECKING:  # the worker loads models lazily; its runtime only names their type
    from models.live import SignalEngine

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    counters: PipelineCounters = field(default_factory=PipelineCounters)
    signals: SignalEngine | None = None  # set once the worker has loaded (or trained) its models
    health: WorkerHealth = field(default_factory=WorkerHealth)
    metrics: Metrics = field(default_factory=Metrics)
    _db: Engine | None = None
    _lock: asyncio.Lock | None = None
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="flameback-io")
    )

    def __post_init__(self) -> None:
        self.health.db_failing_s = self.settings.health_db_failing_s
        self.health.fetch_stall_s = self.settings.health_fetch_stall_s

    @property
    def db(self) -> Engine:
        """The database engine, created on first use (the worker brought the schema up to date at start)."""
        if self._db is None:
            self._db = make_engine(self.settings.db_url)
        return self._db

    def release_database_in_child(self) -> None:
        """In a forked child: drop the parent's pooled connections without closing them (they are the parent's)."""
        if self._db is not None:
            self._db.dispose(close=False)

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (database, model predict) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
