"""The per-symbol state row: indicator engine state + dedup marker, as one table value.

Pure (no Faust). One value per symbol holds the indicator accumulators, the
timestamp of the last applied tick and the last feature row, so the table's
state and its dedup marker always change together (DESIGN §1): a redelivered or
out-of-order tick (timestamp not newer than ``last_ts``) is never applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flameback_app.records import Tick
from flameback_app.ta import IndicatorState, step


@dataclass(slots=True)
class SymbolState:
    """Everything the worker remembers about one symbol."""

    indicators: IndicatorState = field(default_factory=IndicatorState)
    last_ts: datetime | None = None
    ticks: int = 0
    last_features: dict[str, Any] | None = None

    def is_new(self, tick: Tick) -> bool:
        """True if the tick is newer than anything applied (else: duplicate or out of order)."""
        return self.last_ts is None or tick.timestamp > self.last_ts

    def apply(self, tick: Tick) -> dict[str, Any]:
        """Advance the indicators by one (new) tick and return its feature row."""
        self.indicators, features = step(self.indicators, tick.price)
        self.last_ts = tick.timestamp
        self.ticks += 1
        row = {"symbol": tick.symbol, "timestamp": tick.timestamp, "current_price": tick.price, **features}
        self.last_features = features
        return row

    def to_value(self) -> dict[str, Any]:
        """The JSON-serialisable table value."""
        return {
            "indicators": self.indicators.to_dict(),
            "last_ts": self.last_ts.isoformat() if self.last_ts else None,
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
            ticks=int(value.get("ticks", 0)),
            last_features=value.get("last_features"),
        )
