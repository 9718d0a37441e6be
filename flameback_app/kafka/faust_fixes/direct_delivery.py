"""A cheaper delivery of fetched messages: a plain call where Faust races two tasks per message.

Not a fix of a Faust bug: part of the cheaper per-message path (``flameback_app.kafka.lean_faust``),
kept here because it is a consumer class composed into the transport like the fixes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.types import TP, Message


class DirectDelivery(Consumer):
    """Faust's consumer whose fetch loop delivers a message by a plain call when the delivery cannot wait.

    Faust's ``_drain_messages`` hands every fetched message to the conductor through
    ``wait_first(callback(message), suspend_flow.wait())``: two tasks, an
    ``asyncio.wait`` and a cancellation per message, so that a rebalance (which sets
    ``suspend_flow``) can abandon a delivery that waits — on paused flow control, a
    full stream queue, the producer's buffer or the conductor's lock. Without that race
    a restarted worker stalled for good (a waiting delivery, and a rebalance waiting
    for it). So the race stays wherever any of those could wait; when none can
    (:meth:`_delivery_cannot_wait`), the callback runs to its end without suspending
    and a plain ``await`` does the same work without the tasks. Otherwise the loop is
    Faust 0.15.3's own (the version guard pins it).
    """

    def _delivery_cannot_wait(self, tp: TP) -> bool:
        """True when delivering a message of ``tp`` now cannot suspend: every await on its path returns at once."""
        app = self.app
        conductor: Any = app.topics  # faust's Conductor: its lock and tp index are not on ConductorT
        return (
            not self.suspend_flow.is_set()
            and app.flow_control.is_active()
            and not conductor._tp_to_callback_lock.locked()
            and app.producer.buffer.size <= app.producer.buffer.max_messages
            and not any(channel.queue.full() for channel in conductor._tp_index.get(tp, ()))
        )

    async def _drain_messages(self, fetcher: Any) -> None:
        callback = self.callback
        should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        acks_enabled_for = self.app.topics.acks_enabled_for
        since_yield = 0
        try:
            while not (should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                fetched = self.getmany(timeout=1.0)
                await self.sleep(0)  # getmany may return at once, again and again
                if not self.should_stop:
                    async for tp, message in fetched:
                        since_yield += 1
                        if since_yield > 100:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset = message.offset
                        read_offset = get_read_offset(tp)
                        if read_offset is not None and offset < read_offset:
                            continue  # read already (Faust logs these at dev level only)
                        if offset - (read_offset or 0) > 1 and read_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, read_offset + 1, offset)
                        if self._commit_every is not None and self._n_acked >= self._commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await self._deliver(callback, tp, message)
                        set_read_offset(tp, offset)
                    self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        except Exception:
            self.log.exception("Drain messages raised")
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _deliver(self, callback: Any, tp: TP, message: Message) -> None:
        if self._delivery_cannot_wait(tp):
            await callback(message)
        else:
            await self.wait_first(callback(message), self.suspend_flow.wait())
