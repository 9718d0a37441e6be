"""Which asyncio event loop the worker runs on: uvloop by default (``FLAMEBACK_EVENT_LOOP``).

Fed one tick per Kafka message, the worker spends a large share of its time in the
event loop itself: every message wakes futures, schedules callbacks and tasks, and
reads and writes sockets (py-spy, ``python -m bench.pipeline --profile``). uvloop is a
drop-in asyncio loop written on libuv that does the same for less CPU; Faust and mode
support it (what ``faust -L uvloop`` does: uvloop's event loop policy).
``FLAMEBACK_EVENT_LOOP=asyncio`` keeps the standard loop.
"""

from __future__ import annotations

import asyncio
import logging

import uvloop

log = logging.getLogger(__name__)


def use_event_loop(name: str) -> None:
    """Make loops created from now on ``name``'s ("uvloop" or "asyncio"); a loop already running is left alone.

    Called while the Faust app is built, which the ``faust`` command does before it
    creates the worker's loop. A caller that already runs a loop (an in-process test
    building the app) keeps the loop it has.
    """
    if name == "asyncio":
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    else:
        log.debug("an event loop is already running: %s is not installed", name)
