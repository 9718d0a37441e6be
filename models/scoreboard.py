"""The live scoreboard (pure): how often each signal called the next move right.

Reads one symbol's ticks in order (price + that tick's signals); writes nothing but
the state it returns and rows for the database ``scoreboard`` table. The per-symbol
state is a small JSON-able dict, bounded (≤ 250 recent outcomes per signal, 9
signals plus one per user model), so it can live in a Faust table. When the symbol's next tick arrives, every
UP/DOWN call made on the previous tick is scored — UP is right if the new price is
higher, DOWN if it is not (a flat tick counts as not higher, like the label) — and so
is the always-up baseline on the same ticks (``baseline_up_rate``: the share of those
ticks that went up). NEUTRAL, TRAINING and no-signal (None) are not scored.

Per signal: cumulative ``n``/``hits``/``hit_rate``, and ``hit_rate_20/60/250`` over the
last 20, 60, 250 scored calls. Overall (symbol "*"), cumulative figures add up over
symbols; a rolling rate pools each symbol's own window: Σ hits in each symbol's last
w calls / Σ min(n, w) — the hit rate of the most recent w calls of every symbol.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from models.columns import ALL_SYMBOLS

WINDOWS = (20, 60, 250)
CALLS = ("UP", "DOWN")
# When a call was right, as (call, comparison of the next price with the call's price). One
# definition for the live scoreboard and for the chart's markers (dashboard/history.py turns it
# into SQL), so a marker drawn filled is a call the scoreboard counted as a hit.
RIGHT_WHEN = {"UP": ">", "DOWN": "<="}


def call_was_right(call: str, price: float, next_price: float) -> bool:
    """Whether an UP/DOWN call made at ``price`` was right once the next tick came at ``next_price``."""
    went_up = next_price > price
    return went_up if RIGHT_WHEN[call] == ">" else not went_up


def new_score_state() -> dict[str, Any]:
    """A symbol's scoreboard before its first tick."""
    return {"prev_price": None, "prev_signals": {}, "signals": {}}


def score_tick(state: dict[str, Any], price: float, signals: Mapping[str, Any]) -> dict[str, Any]:
    """Score the previous tick's calls against ``price``, then remember this tick's calls."""
    prev_price = state["prev_price"]
    if prev_price is not None:
        went_up = price > prev_price
        for name, call in state["prev_signals"].items():
            if call in CALLS:
                _record(
                    state["signals"].setdefault(name, {"n": 0, "hits": 0, "up_hits": 0, "recent": ""}),
                    hit=call_was_right(call, prev_price, price),
                    went_up=went_up,
                )
    state["prev_price"] = price
    state["prev_signals"] = {k: v for k, v in signals.items() if v in CALLS}
    return state


def _record(score: dict[str, Any], *, hit: bool, went_up: bool) -> None:
    score["n"] += 1
    score["hits"] += hit
    score["up_hits"] += went_up
    score["recent"] = (score["recent"] + ("1" if hit else "0"))[-WINDOWS[-1] :]


def rolling_rate(recent: str, window: int) -> float | None:
    """Hit rate of the last ``window`` outcomes ("1" hit, "0" miss), None before any."""
    tail = recent[-window:]
    return tail.count("1") / len(tail) if tail else None


def scoreboard_rows(symbol: str, state: Mapping[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Rows for the database ``scoreboard`` table, one per signal scored so far."""
    rows = []
    for name, score in state["signals"].items():
        n = score["n"]
        row = {
            "symbol": symbol,
            "signal": name,
            "n": n,
            "hits": score["hits"],
            "hit_rate": score["hits"] / n if n else None,
            "baseline_up_rate": score["up_hits"] / n if n else None,
            "updated_at": now,
        }
        row.update({f"hit_rate_{w}": rolling_rate(score["recent"], w) for w in WINDOWS})
        rows.append(row)
    return rows


def overall_rows(states: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Scoreboard rows for symbol "*" from every symbol's state (see the module docstring)."""
    return pooled_rows((row for state in states for row in scoreboard_rows(ALL_SYMBOLS, state, now)), now)


def pooled_rows(rows: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Scoreboard rows for symbol "*" from per-symbol scoreboard rows (e.g. read back from the database).

    Rolling rates pool each symbol's window: Σ(rate_w × min(n, w)) / Σ min(n, w).
    """
    pooled: dict[str, dict[str | int, Any]] = {}  # "n", "hits", "up" and per window w: [Σ rate × k, Σ k]
    for row in rows:
        acc = pooled.setdefault(row["signal"], {"n": 0, "hits": 0, "up": 0.0, **{w: [0.0, 0] for w in WINDOWS}})
        acc["n"] += row["n"]
        acc["hits"] += row["hits"]
        acc["up"] += (row["baseline_up_rate"] or 0.0) * row["n"]
        for w in WINDOWS:
            if row[f"hit_rate_{w}"] is not None:
                k = min(row["n"], w)
                acc[w][0] += row[f"hit_rate_{w}"] * k
                acc[w][1] += k
    return [
        {
            "symbol": ALL_SYMBOLS,
            "signal": name,
            "n": a["n"],
            "hits": a["hits"],
            "hit_rate": a["hits"] / a["n"] if a["n"] else None,
            "baseline_up_rate": a["up"] / a["n"] if a["n"] else None,
            "updated_at": now,
            **{f"hit_rate_{w}": (a[w][0] / a[w][1] if a[w][1] else None) for w in WINDOWS},
        }
        for name, a in pooled.items()
    ]
