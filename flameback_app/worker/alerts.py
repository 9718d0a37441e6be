"""Alert evaluation (pure): which rules fire on a row the worker is about to store.

Reads nothing but its arguments; keeps, per symbol, the few values of the previous
row it needs (RSI, the models' last majority, which rule conditions already held,
when each rule last fired), so a tick costs a few comparisons and no database query.

Every alert is edge-triggered: it fires when its condition *becomes* true (RSI rises
through ``upper`` or falls through ``lower``; the four models' majority turns from UP
to DOWN or back; a model whose live hit rate is above ``min_hit_rate`` starts calling
UP), never again while it stays true. After firing, a rule stays quiet on that symbol
for its cooldown, measured on the ticks' own timestamps, so a replay fires what the
live feed would have. The first row of a symbol (and the first after a worker
restart) only primes the memory: with no previous value there is no crossing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flameback_app.worker.alert_rules import AlertRule, KeyedRule
from models.columns import MODEL_COLUMNS
from models.scoreboard import rolling_rate


@dataclass(frozen=True)
class Alert:
    """One fired alert: a row of the ``alerts`` table and the webhook's JSON."""

    rule_key: str
    rule_name: str
    kind: str
    symbol: str
    timestamp: datetime
    seq: int
    message: str
    details: dict[str, Any]

    def row(self, fired_at: datetime) -> dict[str, Any]:
        return {
            "rule_key": self.rule_key,
            "rule_name": self.rule_name,
            "kind": self.kind,
            "symbol": self.symbol,
            "timestamp": self.timestamp,
            "seq": self.seq,
            "fired_at": fired_at,
            "message": self.message,
            "details_json": json.dumps(self.details, sort_keys=True),
        }

    def payload(self, fired_at: datetime) -> dict[str, Any]:
        return {
            "rule": self.rule_name,
            "rule_key": self.rule_key,
            "kind": self.kind,
            "symbol": self.symbol,
            "timestamp": self.timestamp.isoformat(),
            "seq": self.seq,
            "fired_at": fired_at.isoformat(),
            "message": self.message,
            "details": self.details,
        }


@dataclass
class SymbolMemory:
    """What one symbol's previous rows left behind."""

    rsi: float | None = None
    majority: str | None = None  # the last UP/DOWN majority of the models (a 2-2 split keeps it)
    holding: set[tuple[str, str]] = field(default_factory=set)  # (rule key, model) whose model_up condition held
    last_fired: dict[str, datetime] = field(default_factory=dict)  # rule key → tick time


def majority(row: Mapping[str, Any]) -> str | None:
    """UP or DOWN when more than half of the four models say so, else None."""
    calls = [row.get(model) for model in MODEL_COLUMNS]
    for side in ("UP", "DOWN"):
        if 2 * calls.count(side) > len(MODEL_COLUMNS):
            return side
    return None


class AlertEngine:
    """The rules in force and each symbol's memory; :meth:`evaluate` once per stored row, in tick order."""

    def __init__(self, rules: Sequence[KeyedRule], default_cooldown_s: float) -> None:
        self.default_cooldown_s = default_cooldown_s
        self.memory: dict[str, SymbolMemory] = defaultdict(SymbolMemory)
        self.rules: list[KeyedRule] = []
        self._by_symbol: dict[str, list[KeyedRule]] = {}
        self.set_rules(rules)

    def set_rules(self, rules: Sequence[KeyedRule]) -> None:
        """Replace the rules; what a rule that is still there remembered (holding, cooldown) is kept."""
        self.rules = list(rules)
        self._by_symbol = defaultdict(list)
        for keyed in self.rules:
            self._by_symbol[keyed.rule.symbol].append(keyed)
        keys = {keyed.key for keyed in self.rules}
        for memory in self.memory.values():
            memory.holding = {held for held in memory.holding if held[0] in keys}

    def evaluate(self, row: Mapping[str, Any], score: Mapping[str, Any] | None = None) -> list[Alert]:
        """Alerts this row fires; ``score`` is the symbol's live scoreboard state after this row was scored."""
        symbol = row["symbol"]
        memory = self.memory[symbol]
        fired = []
        now_majority = majority(row)
        for keyed in (*self._by_symbol.get("*", ()), *self._by_symbol.get(symbol, ())):
            alert = self._check(keyed, row, score, memory, now_majority)
            if alert is not None and self._cooled_down(keyed, memory, alert.timestamp):
                memory.last_fired[keyed.key] = alert.timestamp
                fired.append(alert)
        memory.rsi = row.get("rsi_14")
        memory.majority = now_majority or memory.majority
        return fired

    def _cooled_down(self, keyed: KeyedRule, memory: SymbolMemory, when: datetime) -> bool:
        last = memory.last_fired.get(keyed.key)
        cooldown = keyed.rule.cooldown_s if keyed.rule.cooldown_s is not None else self.default_cooldown_s
        return last is None or (when - last).total_seconds() >= cooldown

    def _check(
        self,
        keyed: KeyedRule,
        row: Mapping[str, Any],
        score: Mapping[str, Any] | None,
        memory: SymbolMemory,
        now_majority: str | None,
    ) -> Alert | None:
        rule = keyed.rule
        if rule.kind == "rsi_cross":
            found = rsi_crossing(rule, memory.rsi, row.get("rsi_14"))
        elif rule.kind == "consensus_flip":
            found = consensus_flip(memory.majority, now_majority, row)
        else:
            found = self._model_up(keyed, row, score, memory)
        if found is None:
            return None
        message, details = found
        return Alert(
            keyed.key,
            rule.title(),
            rule.kind,
            row["symbol"],
            row["timestamp"],
            int(row.get("seq") or 0),
            f"{row['symbol']}: {message}",
            details,
        )

    def _model_up(
        self, keyed: KeyedRule, row: Mapping[str, Any], score: Mapping[str, Any] | None, memory: SymbolMemory
    ) -> tuple[str, dict[str, Any]] | None:
        """Models whose condition (calls UP, hit rate above H) starts to hold on this row."""
        rule, started = keyed.rule, {}
        for model in rule.models:
            rate = live_hit_rate(score, model, rule.window, rule.min_calls)
            holds = row.get(model) == "UP" and rate is not None and rate > rule.min_hit_rate
            held = (keyed.key, model) in memory.holding
            if holds and not held and rate is not None:
                memory.holding.add((keyed.key, model))
                started[model] = round(rate, 4)
            elif held and not holds:
                memory.holding.discard((keyed.key, model))
        if not started:
            return None
        names = ", ".join(f"{m} ({r:.0%} of last {rule.window})" for m, r in started.items())
        return f"UP from {names} > {rule.min_hit_rate:.0%} hit rate", {"models": started, "window": rule.window}


def rsi_crossing(rule: AlertRule, before: float | None, now: float | None) -> tuple[str, dict[str, Any]] | None:
    """RSI rising through ``upper`` or falling through ``lower`` between two rows (None: no crossing)."""
    if before is None or now is None:
        return None
    if before < rule.upper <= now:
        return f"RSI {now:.1f} crossed above {rule.upper:g}", {"rsi": now, "previous": before, "level": rule.upper}
    if before > rule.lower >= now:
        return f"RSI {now:.1f} crossed below {rule.lower:g}", {"rsi": now, "previous": before, "level": rule.lower}
    return None


def consensus_flip(before: str | None, now: str | None, row: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The models' majority turned from one side to the other (a 2-2 split in between does not count as a side)."""
    if before is None or now is None or before == now:
        return None
    calls = {model: row.get(model) for model in MODEL_COLUMNS}
    ups = sum(call == "UP" for call in calls.values())
    return f"model consensus flipped {before} → {now} ({ups}/{len(calls)} UP)", {
        "from": before,
        "to": now,
        "calls": calls,
    }


def live_hit_rate(score: Mapping[str, Any] | None, model: str, window: int, min_calls: int) -> float | None:
    """The model's hit rate over its last ``window`` scored calls, None below ``min_calls`` of them."""
    recent = ((score or {}).get("signals", {}).get(model) or {}).get("recent", "")
    tail = recent[-window:]
    return rolling_rate(tail, window) if len(tail) >= min_calls else None
