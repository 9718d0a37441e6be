"""The market overview: every symbol in one table, its rows, colours and the LIVE/REPLAY cue (pure).

:func:`overview_rows` turns what :mod:`dashboard.queries` read (each symbol's newest
row with the price before it, each symbol's price at the window's start, the
scoreboard) into one flat row per symbol for a ``dash_table.DataTable``: numbers stay
numbers so the table sorts and filters them as numbers. The window's start is the
newest tick of the whole market minus the window, one cut for every symbol, so a
change reads as "since that moment" the way a screen of quotes does (and a symbol
that stopped ticking shows it in its age, not in a shorter window).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from dash.dash_table import FormatTemplate
from dash.dash_table.Format import Format, Scheme

from dashboard.figures import GREEN, GREY, RED, YELLOW
from dashboard.symbols import SymbolSheet
from flameback_app.storage.db import MODEL_COLUMNS, RULE_COLUMNS

WINDOWS: dict[str, timedelta] = {
    "1D": timedelta(days=1),
    "1W": timedelta(weeks=1),
    "1M": timedelta(days=30),
    "3M": timedelta(days=91),
    "1Y": timedelta(days=365),
}
DEFAULT_WINDOW = "1M"
REPLAY_AFTER = timedelta(hours=1)  # a live feed is never this far behind the clock; a replay of history always is
SIGNAL_LABELS = {
    "XGBoost": "XGB",
    "RandomForest": "RF",
    "AdaBoost": "ADA",
    "LogisticReg": "LOGIT",
    "RSI_Rule": "RSI R",
    "MACD_Rule": "MACD R",
    "Momentum_Rule": "MOM R",
    "PriceChange_Rule": "CHG R",
    "BB_Rule": "BB R",
}
SIGNALS = (*MODEL_COLUMNS, *RULE_COLUMNS)


def hit_column(signal: str) -> str:
    return f"hit60_{signal}"


def table_columns(window: str) -> list[dict[str, Any]]:
    """The DataTable's columns; the window's two change columns carry its name."""
    price = Format(precision=4, scheme=Scheme.decimal_or_exponent)
    percent = FormatTemplate.percentage(1)
    signed = FormatTemplate.percentage(2).sign("+")
    return [
        {"id": "symbol", "name": "SYMBOL", "type": "text"},
        {"id": "name", "name": "NAME", "type": "text"},
        {"id": "last", "name": "LAST", "type": "numeric", "format": price},
        {"id": "chg", "name": "CHG", "type": "numeric", "format": price},
        {"id": "chg_pct", "name": "CHG %", "type": "numeric", "format": signed},
        {"id": "win_chg", "name": f"{window} CHG", "type": "numeric", "format": price},
        {"id": "win_chg_pct", "name": f"{window} %", "type": "numeric", "format": signed},
        {"id": "rsi", "name": "RSI", "type": "numeric", "format": Format(precision=1, scheme=Scheme.fixed)},
        {"id": "models_up", "name": "MODELS ▲/4", "type": "numeric"},
        {"id": "rules_up", "name": "RULES ▲/5", "type": "numeric"},
        *(
            {"id": hit_column(s), "name": f"HIT60 {SIGNAL_LABELS[s]}", "type": "numeric", "format": percent}
            for s in SIGNALS
        ),
        {"id": "always_up", "name": "ALWAYS ▲", "type": "numeric", "format": percent},
        {"id": "last_tick", "name": "LAST TICK", "type": "text"},
        {"id": "age", "name": "AGE", "type": "text"},
    ]


def _between(column: str, low: float | None, high: float | None, color: str) -> dict[str, Any]:
    parts = [f"{{{column}}} >= {low}" if low is not None else "", f"{{{column}}} <= {high}" if high is not None else ""]
    return {"if": {"filter_query": " && ".join(p for p in parts if p), "column_id": column}, "color": color}


def table_styles() -> list[dict[str, Any]]:
    """Colour by call and strength: green up / red down; consensus green at 3+ of 4 models (4+ of 5 rules)."""
    styles = [
        {"if": {"filter_query": f"{{{c}}} > 0", "column_id": c}, "color": GREEN}
        for c in ("chg", "chg_pct", "win_chg", "win_chg_pct")
    ]
    styles += [
        {"if": {"filter_query": f"{{{c}}} < 0", "column_id": c}, "color": RED}
        for c in ("chg", "chg_pct", "win_chg", "win_chg_pct")
    ]
    styles += [_between("rsi", 70, None, GREEN), _between("rsi", None, 30, RED), _between("rsi", 30, 70, YELLOW)]
    styles += [
        _between("models_up", 3, None, GREEN),
        _between("models_up", None, 1, RED),
        _between("models_up", 2, 2, YELLOW),
        _between("rules_up", 4, None, GREEN),
        _between("rules_up", None, 1, RED),
        _between("rules_up", 2, 3, YELLOW),
    ]
    for signal in SIGNALS:
        column = hit_column(signal)
        styles += [_between(column, 0.55, None, GREEN), _between(column, None, 0.45, RED)]
    styles.append({"if": {"column_id": "always_up"}, "color": GREY})
    styles.append({"if": {"column_id": "symbol"}, "fontWeight": "bold"})
    return styles


def count_up(row: Mapping[str, Any], signals: tuple[str, ...]) -> int | None:
    """How many of ``signals`` call UP; None while none of them calls UP or DOWN yet (warm-up, training)."""
    calls = [row.get(s) for s in signals]
    if not any(c in ("UP", "DOWN") for c in calls):
        return None
    return sum(c == "UP" for c in calls)


def _change(now: float | None, then: float | None) -> tuple[float | None, float | None]:
    if now is None or then is None:
        return None, None
    return now - then, (now / then - 1.0 if then else None)


def parse_time(value: Any) -> datetime:
    """A stored tick time as a datetime (SQLite hands raw SQL results back as text)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def humanise_age(seconds: float) -> str:
    """``12 s``, ``5 min``, ``3.2 h``, ``41 d``: how stale a quote is, readable at a glance."""
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:,.0f} d"


def _hit_rates(rates: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Each signal's hit rate over its last 60 calls, and the always-up baseline of the most scored signal."""
    out: dict[str, Any] = {hit_column(s): (rates.get(s) or {}).get("hit_rate_60") for s in SIGNALS}
    most = max(rates.values(), key=lambda r: r.get("n") or 0, default=None)
    out["always_up"] = most.get("baseline_up_rate") if most else None
    return out


def overview_rows(
    latest: list[dict[str, Any]],
    window_prices: Mapping[str, float],
    rates: Mapping[str, Mapping[str, Mapping[str, Any]]],
    sheet: SymbolSheet,
    now: datetime,
) -> list[dict[str, Any]]:
    """One table row per symbol (``id`` = symbol, so a click names the symbol whatever the sort)."""
    rows = []
    for row in latest:
        symbol, stamp = row["symbol"], parse_time(row["timestamp"])
        chg, chg_pct = _change(row["current_price"], row.get("prev_price"))
        win_chg, win_pct = _change(row["current_price"], window_prices.get(symbol))
        rows.append(
            {
                "id": symbol,
                "symbol": symbol,
                "name": (sheet.get(symbol.upper()) or {}).get("description", ""),
                "last": row["current_price"],
                "chg": chg,
                "chg_pct": chg_pct,
                "win_chg": win_chg,
                "win_chg_pct": win_pct,
                "rsi": row.get("rsi_14"),
                "models_up": count_up(row, MODEL_COLUMNS),
                "rules_up": count_up(row, RULE_COLUMNS),
                **_hit_rates(rates.get(symbol, {})),
                "last_tick": stamp.isoformat(sep=" ", timespec="seconds"),
                "age": humanise_age((now - stamp).total_seconds()),
            }
        )
    return rows


def window_cut(latest: list[dict[str, Any]], window: str) -> datetime | None:
    """The window's start: the market's newest tick minus the window (None without rows)."""
    if not latest:
        return None
    return max(parse_time(r["timestamp"]) for r in latest) - WINDOWS.get(window, WINDOWS[DEFAULT_WINDOW])


def utc_now_naive() -> datetime:
    """The wall clock as the ticks store it: UTC without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


def feed_cue(newest: datetime | None, now: datetime) -> tuple[str, str]:
    """(text, CSS class) of the header's cue: LIVE when the newest tick is near the clock, else REPLAY and how far."""
    if newest is None:
        return "NO DATA", "feed-cue idle"
    behind = (now - newest).total_seconds()
    if behind <= REPLAY_AFTER.total_seconds():
        return "● LIVE", "feed-cue live"
    return f"REPLAY · data to {newest:%Y-%m-%d %H:%M} ({humanise_age(behind)} behind the clock)", "feed-cue replay"
