"""The per-symbol state row: indicator engine state + dedup marker, as one table value.

Pure (no Faust). One value per symbol holds the indicator accumulators, the
dedup marker — the (timestamp, seq) of the last applied tick — and the last feature
row, so the table's state and its marker always change together: a redelivered or
out-of-order tick (marker not newer) is never applied twice.

The dedup contract (README, "The tick contract"):
- a tick whose (timestamp, seq or 0) is above the marker is NEW and applied;
- one at or below it is STALE (a redelivery, or out of order) and skipped;
- one *without* ``seq`` at exactly the marker whose price or volume differ from the
  last applied tick is a different trade in the same instant that the producer gave
  no order to: SAME_TIMESTAMP. It is not applied (which of the two came first is
  unknowable) but dead-lettered under its own reason, never silently dropped.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flameback_app.core.records import FeatureRow, Tick
from flameback_app.core.ta import IndicatorState, step


class Verdict(enum.Enum):
    NEW = "new"
    STALE = "stale"
    SAME_TIMESTAMP = "same_timestamp"


@dataclass(slots=True)
class SymbolState:
    """Everything the worker remembers about one symbol."""

    indicators: IndicatorState = field(default_factory=IndicatorState)
    last_ts: datetime | None = None
    last_seq: int = 0
    last_price: float | None = None
    last_volume: float | None = None
    ticks: int = 0
    last_features: dict[str, Any] | None = None

    def classify(self, tick: Tick) -> Verdict:
        """Where the tick stands against the dedup marker (see the module docstring)."""
        if self.last_ts is None:
            return Verdict.NEW
        key, marker = tick.order_key, (self.last_ts, self.last_seq)
        if key > marker:
            return Verdict.NEW
        if key == marker and tick.seq is None and self._differs_from_last(tick):
            return Verdict.SAME_TIMESTAMP
        return Verdict.STALE

    def _differs_from_last(self, tick: Tick) -> bool:
        """Not the last applied tick again (a row written before this field existed: assume it is)."""
        return self.last_price is not None and (tick.price, tick.volume) != (self.last_price, self.last_volume)

    def apply(self, tick: Tick) -> FeatureRow:
        """Advance the indicators by one (new) tick and return its feature row."""
        self.indicators, features = step(self.indicators, tick.price)
        self.last_ts, self.last_seq = tick.order_key
        self.last_price, self.last_volume = tick.price, tick.volume
        self.ticks += 1
        self.last_features = features
        return FeatureRow(tick.symbol, tick.timestamp, self.last_seq, tick.volume, tick.price, features)

    def to_value(self) -> dict[str, Any]:
        """The JSON-serialisable table value (fields added later are optional, so older rows still load)."""
        return {
            "indicators": self.indicators.to_dict(),
            "last_ts": self.last_ts.isoformat() if self.last_ts else None,
            "last_seq": self.last_seq,
            "last_price": self.last_price,
            "last_volume": self.last_volume,
            "ticks": self.ticks,
            "last_features": self.last_features,
        }

    @classmethod
    def from_value(cls, value: dict[str, Any] | None, periods_per_year: float | None = None) -> SymbolState:
        """The state of a table value (None: a new symbol); ``periods_per_year``: the setting, if given."""
        if not value:
            return cls(IndicatorState() if periods_per_year is None else IndicatorState(periods_per_year))
        last_ts = value.get("last_ts")
        return cls(
            indicators=IndicatorState.from_dict(value["indicators"], periods_per_year),
            last_ts=datetime.fromisoformat(last_ts) if last_ts else None,
            last_seq=int(value.get("last_seq", 0)),
            last_price=value.get("last_price"),
            last_volume=value.get("last_volume"),
            ticks=int(value.get("ticks", 0)),
            last_features=value.get("last_features"),
        )
