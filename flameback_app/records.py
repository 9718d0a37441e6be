"""The records that cross module boundaries: a validated tick.

Ticks travel on Kafka as JSON bytes (``{"symbol","price","timestamp"}``); inside
the process they are this small frozen value. Timestamps are naive datetimes in
UTC, rendered as ISO 8601 wherever they leave the process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Tick:
    """One price observation of one symbol."""

    symbol: str
    price: float
    timestamp: datetime

    def to_json_bytes(self) -> bytes:
        """The wire form on ``futures-ticks`` (what the feeds send)."""
        return json.dumps(
            {"symbol": self.symbol, "price": self.price, "timestamp": self.timestamp.isoformat()},
            separators=(",", ":"),
        ).encode()


def utc_now() -> datetime:
    """The current time as a naive UTC datetime (the convention for every stored time)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utc_from_epoch(seconds: float) -> datetime:
    """Epoch seconds (e.g. a Kafka timestamp) as a naive UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
