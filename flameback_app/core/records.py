"""The records that cross module boundaries: a validated tick.

Ticks travel on Kafka as JSON bytes (``{"symbol","price","timestamp"}`` plus the
optional ``seq`` and ``volume``, or a JSON array of such objects when a feed packs a
symbol's consecutive ticks); inside the process they are this small frozen value.
Timestamps are naive datetimes in UTC, rendered as ISO 8601 wherever they leave the
process. The contract for producers is ``docs/tick.schema.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Tick:
    """One price observation of one symbol.

    ``seq`` orders ticks that share a timestamp (an exchange sequence number or trade
    id); a tick without one counts as ``seq`` 0 in the dedup marker and the database
    key. ``volume`` is the traded size, when the producer knows it.
    """

    symbol: str
    price: float
    timestamp: datetime
    seq: int | None = None
    volume: float | None = None

    @property
    def order_key(self) -> tuple[datetime, int]:
        """Where the tick sits in its symbol's sequence: (timestamp, seq or 0)."""
        return self.timestamp, self.seq or 0

    def to_json_bytes(self) -> bytes:
        """The wire form of one tick on ``futures-ticks``."""
        return json.dumps(self.to_json_dict(), separators=(",", ":")).encode()

    def to_json_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"symbol": self.symbol, "price": self.price, "timestamp": self.timestamp.isoformat()}
        if self.seq is not None:
            out["seq"] = self.seq
        if self.volume is not None:
            out["volume"] = self.volume
        return out


def ticks_to_json_bytes(ticks: Sequence[Tick]) -> bytes:
    """One message's value: a tick object for one tick, a JSON array of them (packed) for more."""
    if len(ticks) == 1:
        return ticks[0].to_json_bytes()
    return json.dumps([t.to_json_dict() for t in ticks], separators=(",", ":")).encode()


def utc_now() -> datetime:
    """The current time as a naive UTC datetime (the convention for every stored time)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utc_from_epoch(seconds: float) -> datetime:
    """Epoch seconds (e.g. a Kafka timestamp) as a naive UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
