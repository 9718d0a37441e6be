"""The records that cross module boundaries: a validated tick, its feature row, its signals.

A tick goes ingest → indicator stage as a :class:`Tick`; the indicator stage hands the
prediction stage a :class:`FeatureRow` per applied tick; the signal engine answers with
one :class:`Signals` per row. Storage, the models and the feature topic take flat
column mappings (``columns()``), the shape of the database rows and of the original
system's ``real-features-ticks`` messages.

Ticks travel on Kafka as JSON bytes (``{"symbol","price","timestamp"}`` plus the
optional ``seq`` and ``volume``, or a JSON array of such objects when a feed packs a
symbol's consecutive ticks); inside the process they are this small frozen value.
Timestamps are naive datetimes in UTC, rendered as ISO 8601 wherever they leave the
process. The contract for producers is ``docs/tick.schema.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


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


@dataclass(frozen=True, slots=True)
class FeatureRow:
    """One applied tick after the indicator stage: who, when and at what price, and its indicators.

    ``indicators`` maps each indicator column (``sma_5`` … ``price_lag_5``) to its value,
    None while the indicator is still warming up. ``seq`` is the tick's order key part
    (0 when the producer sent none), as stored in the database key.
    """

    symbol: str
    timestamp: datetime
    seq: int
    volume: float | None
    current_price: float
    indicators: Mapping[str, float | None]

    def columns(self) -> dict[str, Any]:
        """The flat row: the models' input, the database row's feature columns, the feature topic's message."""
        return {
            "symbol": self.symbol,
            "timestamp": self.timestamp,
            "seq": self.seq,
            "volume": self.volume,
            "current_price": self.current_price,
            **self.indicators,
        }

    @classmethod
    def from_columns(cls, row: Mapping[str, Any]) -> FeatureRow:
        """The inverse of :meth:`columns` (a row read back from the topic, a frame or the database)."""
        identity = ("symbol", "timestamp", "seq", "volume", "current_price")
        indicators = {k: v for k, v in row.items() if k not in identity}
        seq, volume = row.get("seq") or 0, row.get("volume")
        return cls(row["symbol"], row["timestamp"], int(seq), volume, float(row["current_price"]), indicators)

    def to_json_bytes(self) -> bytes:
        """The message on ``real-features-ticks``: the flat row, its timestamp in ISO 8601."""
        row = self.columns()
        row["timestamp"] = self.timestamp.isoformat()
        return json.dumps(row, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Signals:
    """What the models and rules call for one feature row.

    ``calls`` maps every signal (the models, the user's models, the five rules) to UP,
    DOWN, NEUTRAL, TRAINING or None (no call yet); ``p_up`` maps every model to its P(up)
    (None without a call); ``model_version`` names the version that made the calls and
    ``user_models`` which of the models are the user's (stored in their own table).
    """

    calls: Mapping[str, str | None]
    p_up: Mapping[str, float | None]
    model_version: str | None
    user_models: tuple[str, ...] = ()

    def columns(self) -> dict[str, Any]:
        """The flat prediction columns: one per signal, ``<model>_p_up``, ``model_version``, ``user_models``."""
        out: dict[str, Any] = dict(self.calls)
        out.update({f"{model}_p_up": p for model, p in self.p_up.items()})
        out["model_version"] = self.model_version
        out["user_models"] = self.user_models
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
