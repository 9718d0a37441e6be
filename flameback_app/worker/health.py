"""Is this worker healthy? The reasons it is not, for ``/health/`` (pure, in memory).

A worker that is up but cannot do its job must say so: a load balancer or an
operator reads the status code, not the counters. Three things make it degraded:

- database writes have been failing for ``FLAMEBACK_HEALTH_DB_FAILING_S`` (the batch
  waits unacknowledged in Kafka, nothing is lost, but no row appears);
- an assigned partition has not been fetched for ``FLAMEBACK_HEALTH_FETCH_STALL_S``
  (assigned to us, yet paused or never resumed: its ticks wait);
- the broker does not answer a TCP connection (the ``/health/`` view asks).

The agents and a timer report what they see; :meth:`WorkerHealth.reasons` turns it
into sentences. Everything takes ``now`` so tests can drive it without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class WorkerHealth:
    """What the worker saw last: database write failures and partitions it holds but does not fetch."""

    db_failing_s: float = 5.0
    fetch_stall_s: float = 30.0
    db_failing_since: float | None = None
    db_error: str = ""
    _not_fetched_since: dict[str, float] = field(default_factory=dict)

    def write_failed(self, error: object, now: float | None = None) -> None:
        """A database write failed (the batch will be retried); the first failure starts the clock."""
        if self.db_failing_since is None:
            self.db_failing_since = time.time() if now is None else now
        self.db_error = " ".join(str(error).split())

    def write_succeeded(self) -> None:
        self.db_failing_since = None
        self.db_error = ""

    def partitions_seen(self, assigned: Iterable[str], fetching: Iterable[str], now: float | None = None) -> None:
        """Record which assigned partitions are not being fetched, and since when (a timer calls this)."""
        now = time.time() if now is None else now
        idle = set(assigned) - set(fetching)
        self._not_fetched_since = {tp: self._not_fetched_since.get(tp, now) for tp in idle}

    def stalled_partitions(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        return sorted(tp for tp, since in self._not_fetched_since.items() if now - since >= self.fetch_stall_s)

    def reasons(self, broker_error: str | None, now: float | None = None) -> list[str]:
        """Why this worker is degraded; empty when it is healthy."""
        now = time.time() if now is None else now
        out = []
        if self.db_failing_since is not None and now - self.db_failing_since >= self.db_failing_s:
            out.append(f"database writes failing for {now - self.db_failing_since:.0f}s: {self.db_error}")
        if stalled := self.stalled_partitions(now):
            out.append(f"assigned partitions not fetched for more than {self.fetch_stall_s:g}s: {', '.join(stalled)}")
        if broker_error:
            out.append(f"broker unreachable: {broker_error}")
        return out
