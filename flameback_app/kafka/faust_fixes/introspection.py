"""Read-only views of Faust's private consumer and producer state, for /health/, /metrics and table views.

Faust exposes no public accessor for these; they live here, beside the fixes, so every
private access of Faust's state stays in this package, where the version guard
(:mod:`flameback_app.kafka.faust_fixes.versions`) refuses versions it was not written against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the worker's metrics read these without importing Faust
    from faust.types import TP


def committed_offset(consumer: Any, tp: TP) -> int | None:
    """The offset Faust last committed for ``tp`` (None before its first commit)."""
    offset: int | None = consumer._committed_offset.get(tp)
    return offset


def active_partitions(consumer: Any) -> set[TP]:
    """The assigned partitions Faust is fetching now (not paused by flow control or recovery)."""
    return set(consumer._get_active_partitions())


def started_producer(producer: Any) -> Any:
    """Faust's underlying aiokafka producer (started on first use), for metadata requests."""
    return producer._ensure_producer()
