"""Bind one event as Faust's current event, for table writes made while processing a batch."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event
from faust.types import EventT


@contextmanager
def event_context(event: EventT[Any]) -> Iterator[None]:
    """Make ``event`` Faust's current event while processing a ``take_events`` batch.

    Faust routes a table write to the changelog partition (and RocksDB partition
    database) of the *current* event. In a batch the current event is the last one
    buffered, which may come from another partition; writing symbol X's row there
    would put it where recovery and ``table_route`` never look. Binding each row's
    own event keeps every row in its symbol's partition. Faust has no public way to
    say which event a write belongs to, so this sets its private context variable.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
