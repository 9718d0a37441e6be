"""FLAMEBACK_EVENT_LOOP: which loop the worker's loops are built on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import uvloop

from flameback_app.kafka.event_loop import use_event_loop


@pytest.fixture
def restored_policy() -> Iterator[None]:
    before = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(before)


def _new_loop_module() -> str:
    loop = asyncio.new_event_loop()
    try:
        return type(loop).__module__
    finally:
        loop.close()


def test_uvloop_builds_the_loops_created_afterwards(restored_policy: None) -> None:
    asyncio.set_event_loop_policy(None)
    use_event_loop("uvloop")
    assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
    assert _new_loop_module() == "uvloop"


def test_asyncio_keeps_the_standard_loop(restored_policy: None) -> None:
    asyncio.set_event_loop_policy(None)
    use_event_loop("asyncio")
    assert _new_loop_module().startswith("asyncio")


def test_a_running_loop_is_left_alone(restored_policy: None) -> None:
    asyncio.set_event_loop_policy(None)

    async def inside_a_loop() -> None:
        use_event_loop("uvloop")

    asyncio.run(inside_a_loop())
    assert not isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
