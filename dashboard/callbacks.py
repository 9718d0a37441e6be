"""Refresh callbacks: symbol list, and everything shown for the chosen symbol.

Reads the database through :mod:`dashboard.queries` only. The rows of the chosen
symbol live in a ``dcc.Store`` (at most ``max_points``); each refresh fetches only
rows newer than the last seen id and appends them. Every failure (no database yet,
empty database, locked database) becomes a message in the page, never a callback
exception, so the browser console stays clean.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dash
from dash import Input, Output, State, html
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from dashboard import ids, queries
from dashboard.figures import (
    GREEN,
    RED,
    fmt_number,
    macd_color,
    macd_figure,
    price_figure,
    rsi_color,
    rsi_figure,
    signal_look,
)
from dashboard.symbols import label_for
from flameback_app.db import ALL_SYMBOLS, MODEL_COLUMNS, RULE_COLUMNS

EMPTY_STORE: dict[str, Any] = {"symbol": None, "last_id": 0, "rows": []}
MISSING_DB = "No database at {path} yet — start the worker (it creates the database)."
EMPTY_DB = "The database has no ticks yet — waiting for the feed and the worker."
LOCKED_DB = "The database is busy (locked by a writer); showing the last data, retrying…"


class ReadProblem(Exception):
    """A read that failed in a way the page explains instead of showing data."""


def read(url: str, engine: Engine, query: Callable[..., Any], *args: Any) -> Any:
    """Run a query, translating missing/locked/schema-less databases into :class:`ReadProblem`."""
    try:
        queries.check_exists(url)
        return query(engine, *args)
    except queries.DatabaseMissing as exc:
        raise ReadProblem(MISSING_DB.format(path=exc)) from None
    except OperationalError as exc:
        message = str(exc.orig).lower()
        if "locked" in message or "busy" in message:
            raise ReadProblem(LOCKED_DB) from None
        if "no such table" in message:
            raise ReadProblem(EMPTY_DB) from None
        raise ReadProblem(f"Database error: {exc.orig}") from None


def update_store(url: str, engine: Engine, symbol: str, store: dict[str, Any], max_points: int) -> dict[str, Any]:
    """The symbol's rows: a full load on a symbol change, else only rows newer than the last seen."""
    if store.get("symbol") != symbol:
        rows = read(url, engine, queries.latest_rows, symbol, max_points)
    else:
        new = read(url, engine, queries.rows_after, symbol, store["last_id"], max_points)
        rows = (store["rows"] + new)[-max_points:] if new else store["rows"]
    for row in rows:
        if isinstance(row.get("timestamp"), datetime):
            row["timestamp"] = row["timestamp"].isoformat()
    return {"symbol": symbol, "last_id": rows[-1]["id"] if rows else store.get("last_id", 0), "rows": rows}


def kpis(rows: list[dict[str, Any]]) -> list[Any]:
    last = rows[-1]
    warm = " (warm-up)"
    return [
        fmt_number(last["current_price"], 4 if abs(last["current_price"]) < 10 else 2),
        html.Span(fmt_number(last["rsi_14"], 1) if last["rsi_14"] is not None else "—" + warm,
                  style={"color": rsi_color(last["rsi_14"])}),
        html.Span(fmt_number(last["macd_line"], 4) if last["macd_line"] is not None else "—" + warm,
                  style={"color": macd_color(last["macd_line"])}),
        fmt_number(None if last["volatility_20"] is None else last["volatility_20"] * 100, 1, " %"),
        str(last["timestamp"]).replace("T", " "),
    ]  # fmt: skip


def _rate(row: dict[str, Any] | None, key: str) -> str:
    return "—" if not row or row.get(key) is None else f"{row[key] * 100:.1f}%"


def signals_table(last: dict[str, Any], rates: dict[str, dict[str, dict[str, Any]]]) -> html.Table:
    """Each signal's current call, its hit rates (this symbol, all symbols) and the always-up baseline."""
    head = html.Tr([html.Th(h) for h in ("signal", "call", "hit 20", "hit all", "all sym", "always ↑")])
    body = []
    for name in (*MODEL_COLUMNS, *RULE_COLUMNS):
        arrow, label, color = signal_look(last.get(name))
        mine, pooled = rates[last["symbol"]].get(name), rates[ALL_SYMBOLS].get(name)
        body.append(html.Tr([
            html.Td(name.replace("_Rule", " rule")), html.Td(f"{arrow} {label}", style={"color": color}),
            html.Td(_rate(mine, "hit_rate_20")), html.Td(_rate(mine, "hit_rate")),
            html.Td(_rate(pooled, "hit_rate")), html.Td(_rate(mine, "baseline_up_rate"), className="muted"),
        ]))  # fmt: skip
    version = last.get("model_version") or "none yet (TRAINING)"
    return html.Div([html.Table([head, *body], className="grid"),
                     html.Div(f"models: {version}", className="muted")])  # fmt: skip


def technicals_table(last: dict[str, Any]) -> html.Table:
    items = [
        ("Momentum (10)", fmt_number(None if last["momentum_10"] is None else last["momentum_10"] * 100, 2, " %")),
        ("Price change", fmt_number(last["price_change_pct"], 2, " %")),
        ("SMA 5", fmt_number(last["sma_5"])), ("SMA 10", fmt_number(last["sma_10"])),
        ("SMA 20", fmt_number(last["sma_20"])), ("EMA 12", fmt_number(last["ema_12"])),
        ("EMA 26", fmt_number(last["ema_26"])),
        ("Volatility (20)", fmt_number(None if last["volatility_20"] is None else last["volatility_20"] * 100, 1, " %")),
        ("BB upper", fmt_number(last["bb_upper"])), ("BB lower", fmt_number(last["bb_lower"])),
    ]  # fmt: skip
    return html.Table([html.Tr([html.Td(k), html.Td(v)]) for k, v in items], className="grid")


def health_table(counters: dict[str, float], now: float) -> html.Table:
    last = counters.get("last_tick_time")
    age = "—" if last is None else f"{max(now - last, 0):.1f} s"
    rejected = int(counters.get("rejected_total", 0))
    items = [("Ticks/s", fmt_number(counters.get("ticks_per_s"), 1)), ("Last tick age", age),
             ("Processed", fmt_number(counters.get("ticks_processed"), 0)),
             ("Rejected", html.Span(str(rejected), style={"color": RED if rejected else GREEN})),
             ("Stale / duplicate", fmt_number(counters.get("stale_total"), 0)),
             ("Rows written", fmt_number(counters.get("rows_written"), 0))]  # fmt: skip
    return html.Table([html.Tr([html.Td(k), html.Td(v)]) for k, v in items], className="grid")


def register_callbacks(app: dash.Dash, url: str, engine: Engine, sheet: dict[str, dict[str, str]],
                       max_points: int) -> None:  # fmt: skip
    @app.callback(Output(ids.SYMBOL, "options"), Output(ids.SYMBOL, "value"),
                  Input(ids.TICK, "n_intervals"), State(ids.SYMBOL, "value"))  # fmt: skip
    def refresh_symbols(_n: int, current: str | None) -> tuple[Any, Any]:
        try:
            names = read(url, engine, queries.symbols)
        except ReadProblem:
            return dash.no_update, dash.no_update
        options = [{"label": label_for(s, sheet), "value": s} for s in names]
        return options, current if current in names else (names[0] if names else None)

    outputs = [Output(ids.ROWS, "data"), Output(ids.STATUS, "children"), Output(ids.STATUS, "className"),
               Output(ids.PRICE_CHART, "figure"), Output(ids.RSI_CHART, "figure"), Output(ids.MACD_CHART, "figure"),
               Output(ids.KPI_PRICE, "children"), Output(ids.KPI_RSI, "children"), Output(ids.KPI_MACD, "children"),
               Output(ids.KPI_VOL, "children"), Output(ids.KPI_LAST, "children"), Output(ids.SIGNALS, "children"),
               Output(ids.TECHNICALS, "children"), Output(ids.HEALTH, "children"), Output(ids.SYMBOL_INFO, "children"),
               Output(ids.CLOCK, "children")]  # fmt: skip

    @app.callback(*outputs, Input(ids.TICK, "n_intervals"), Input(ids.SYMBOL, "value"), State(ids.ROWS, "data"))
    def refresh(_n: int, symbol: str | None, store: dict[str, Any] | None) -> list[Any]:
        return refresh_view(url, engine, sheet, max_points, symbol, store or EMPTY_STORE)


def refresh_view(url: str, engine: Engine, sheet: dict[str, dict[str, str]], max_points: int,
                 symbol: str | None, store: dict[str, Any]) -> list[Any]:  # fmt: skip
    """All 16 outputs of the main refresh (a plain function, so benchmarks and tests can call it)."""
    clock = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    keep = [dash.no_update] * 13
    if symbol is None:
        try:
            read(url, engine, queries.symbols)
            message = EMPTY_DB
        except ReadProblem as problem:
            message = str(problem)
        return [EMPTY_STORE, message, "status", *keep[:12], clock]
    try:
        store = update_store(url, engine, symbol, store, max_points)
        rates = read(url, engine, queries.hit_rates, symbol)
        counters = read(url, engine, queries.counters)
    except ReadProblem as problem:
        return [dash.no_update, str(problem), "status error", *keep[:12], clock]
    rows = store["rows"]
    if not rows:
        return [store, f"No rows for {symbol} yet.", "status", *keep[:12], clock]
    last = rows[-1]
    warming = last["macd_signal"] is None
    status = f"{symbol}: warming up — some indicators need up to 34 ticks ({len(rows)} so far)." if warming else ""
    return [
        store, status, "status",
        price_figure(rows, symbol), rsi_figure(rows, symbol), macd_figure(rows, symbol),
        *kpis(rows), signals_table(last, rates), technicals_table(last), health_table(counters, time.time()),
        label_for(symbol, sheet).removeprefix(symbol).strip(" —"), clock,
    ]  # fmt: skip
