"""The cheaper per-message path: batches that fill while the previous one is processed.

The throughput they buy is measured in ``bench/pipeline.py``; the e2e pipeline and
resilience tests run them against the real broker (restarts, rebalances, kills).
Here: the rules each one keeps, on an app that never connects.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import faust

from flameback_app.kafka.lean_faust import OverlappedBatchStream, _BatchBuffer


def event(payload: bytes = b"x" * 100) -> Any:
    return SimpleNamespace(message=SimpleNamespace(value=payload))


def test_a_batch_is_complete_at_its_maximum_and_the_buffer_then_takes_no_more() -> None:
    buffer = _BatchBuffer(3, prefetch_bytes=10_000)
    for i in range(3):
        assert buffer.accepts
        buffer.add(event(), now=float(i))
    assert buffer.full and buffer.filled.is_set() and not buffer.accepts and not buffer.has_room.is_set()
    assert buffer.opened_at == 0.0  # a batch's wait counts from its first event
    assert len(buffer.take()) == 3
    assert buffer.accepts and not buffer.not_empty.is_set()


def test_while_a_batch_is_processed_the_next_one_buffers_up_to_the_prefetch_limit() -> None:
    buffer = _BatchBuffer(500, prefetch_bytes=250)
    buffer.add(event(), now=0.0)
    buffer.take()  # busy from here on
    buffer.add(event(), now=1.0)
    buffer.add(event(), now=1.0)
    assert buffer.accepts  # 200 bytes buffered
    buffer.add(event(), now=1.0)
    assert not buffer.accepts and not buffer.has_room.is_set()  # 300 bytes: stop until the batch is done
    buffer.done(now=2.0)
    assert buffer.accepts and buffer.has_room.is_set()
    assert buffer.opened_at == 2.0  # more was waiting: the batch gets its whole wait from now to fill


def test_events_buffered_below_the_prefetch_limit_keep_their_arrival_time() -> None:
    buffer = _BatchBuffer(500, prefetch_bytes=10_000)
    buffer.add(event(), now=0.0)
    buffer.take()
    buffer.add(event(), now=1.0)
    buffer.done(now=5.0)
    assert buffer.opened_at == 1.0  # it waited since 1.0: yielded at once, not after another wait


def test_take_batches_buffers_during_a_batch_keeps_order_and_acks_each_batch_after_its_body() -> None:
    """50 values, batches of at most 8, each taking 20 ms: all arrive once, in order, acked only after their batch."""
    app = faust.App("lean-test", broker="kafka://127.0.0.1:1", Stream=OverlappedBatchStream, store="memory://")
    batches: list[list[int]] = []
    acked: list[int] = []
    acked_too_early: list[int] = []
    delivered_during_a_batch: list[int] = []

    @app.agent()
    async def body(stream: Any) -> None:
        assert isinstance(stream, OverlappedBatchStream)
        ack = stream.ack

        async def recording_ack(ev: Any) -> bool:
            acked.append(ev.value)
            return await ack(ev)

        stream.ack = recording_ack  # type: ignore[method-assign] - records the order of acknowledgements
        delivered = []
        stream.add_processor(delivered.append)  # runs as the stream hands each value on
        async for events in stream.take_batches(8, 0.01):
            values = [e.value for e in events]
            before = len(delivered)
            await asyncio.sleep(0.02)  # the batch's work: values keep arriving meanwhile
            delivered_during_a_batch.append(len(delivered) - before)
            acked_too_early.extend(v for v in values if v in acked)
            batches.append(values)

    async def scenario() -> None:
        async with body.test_context() as agent:
            for i in range(50):
                await agent.put(i)
            while sum(map(len, batches)) < 50:
                await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [v for b in batches for v in b] == list(range(50))
    assert max(map(len, batches)) <= 8
    assert max(delivered_during_a_batch) >= 2  # Faust's take_events hands on at most 1 while its body runs
    assert acked_too_early == []
    assert acked[: sum(map(len, batches[:-1]))] == [v for b in batches[:-1] for v in b]
