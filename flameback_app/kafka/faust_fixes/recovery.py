"""Fix: after a rebalance Faust resumes the source partitions before seeking them, and loses what it fetched.

Upstream: https://github.com/faust-streaming/faust/issues/216 fixed this order for apps
without tables (``_resume_streams``, PR #217) and PR #253 moved ``resume_flow`` after the
queues are cleared, but ``Recovery.on_recovery_completed`` still resumes partitions first;
the issue text is ``docs/upstream/faust-recovery-resume-before-seek.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from faust.tables import TableManager as FaustTableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.types import TP


class DeferredResumes(Consumer):
    """A consumer that can hold back ``resume_partitions`` calls for a while (see :class:`SeekBeforeResume`)."""

    _deferred_resumes: set[TP] | None = None

    @contextmanager
    def resumes_deferred(self) -> Iterator[set[TP]]:
        """Collect the partitions resumed inside the block instead of resuming them; yields the collection."""
        deferred: set[TP] = set()
        self._deferred_resumes = deferred
        try:
            yield deferred
        finally:
            self._deferred_resumes = None

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        if self._deferred_resumes is not None:
            self._deferred_resumes.update(tps)
            return
        super().resume_partitions(tps)


class SeekBeforeResume(Recovery):
    """After a rebalance, resume the source partitions only once Faust has seeked and resumed flow.

    Faust's ``on_recovery_completed`` resumes the stream partitions, *then* seeks them
    to the committed offsets, then resumes flow control — and resuming flow control
    clears every stream's queue. Records fetched in that window (a trace: 1,300–2,500
    per partition after a restart with a deleted state directory) were partly
    delivered, partly cleared away unprocessed, and the rest arrived after the read
    position had been reset, which Faust took as a gap (see :class:`.gaps.NoGapAcks`).
    Deferring the resume until the method has finished means the first record fetched
    is the committed offset. A fetch still pending from before the rebalance can
    deliver records between Faust's seek and that clearing (it does not look at
    paused partitions), so the partitions are sought to the committed offsets once
    more after the queues were cleared: whatever was cleared is read again.
    The app's consumer must be a :class:`DeferredResumes` (the fixed transport's is).
    """

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        consumer = self.app.consumer
        if not isinstance(consumer, DeferredResumes):
            raise TypeError(f"SeekBeforeResume needs the fixed transport's consumer, not {type(consumer).__name__}")
        with consumer.resumes_deferred() as deferred:
            await super().on_recovery_completed(generation_id)
        if deferred and self.app.consumer_generation_id == generation_id:
            await consumer.perform_seek()
            consumer.resume_partitions(deferred)


class TableManager(FaustTableManager):
    """Faust's table manager with :class:`SeekBeforeResume` as its recovery (the app's ``TableManager`` setting)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekBeforeResume(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
