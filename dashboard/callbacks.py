"""The terminal's callbacks: route (URL ⇄ view), market overview, symbol list, the symbol's view, health, feed cue.

Reads the database through :mod:`dashboard.queries` only. The browser keeps a small
cursor in a ``dcc.Store`` ({symbol, last_id, rows, warming}); a refresh fetches only
rows with a larger id (at most ``max_points``) for the KPIs, signals and technicals,
so its cost follows the number of new rows, not the history. The chart is drawn by
:mod:`dashboard.symbol_view`, by time range. Every failure (no database file, no tables, a database locked by a
writer) becomes a message in the page, never a callback exception, so the
browser console stays clean. The callback bodies are plain functions
(:func:`route`, :func:`overview_update`, :func:`symbol_choices`, :func:`view_update`,
:func:`health_update`) so tests and ``bench/dashboard.py`` call them directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, html
from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError, OperationalError

from dashboard import figures, ids, links, overview, queries, user_models
from dashboard.figures import GREEN, GREY, RED, fmt_number, fmt_percent, fmt_price
from dashboard.symbols import SymbolSheet, describe, exchange_line
from flameback_app.storage.db import ALL_SYMBOLS, RULE_COLUMNS
from flameback_app.storage.schema import SchemaError

NO_CURSOR: dict[str, Any] = {"symbol": None, "last_id": 0, "rows": 0, "warming": False}
MISSING_DB = "NO DATABASE at {path} — start the worker; it creates the database (the terminal only reads)."
EMPTY_DB = "NO DATA YET — the database has no ticks; waiting for the feed and the worker."
LOCKED_DB = "DATABASE BUSY — locked by a writer; showing the last data read, retrying every refresh."
OLD_SCHEMA = (
    "DATABASE SCHEMA OLDER THAN THIS TERMINAL — the database has {state}, this terminal reads revision "
    "{head}: upgrade it with `faust -A flameback_app db upgrade` (a starting worker does it too)."
)
WARMING = "{symbol}: WARMING UP — {rows} ticks so far; RSI needs 15, MACD signal 34 (blank until then)."
KPI_OUTPUTS = (ids.KPI_PRICE, ids.KPI_RSI, ids.KPI_MACD, ids.KPI_VOL, ids.KPI_LAST)


@dataclass(frozen=True)
class Source:
    """Where the terminal reads from and how much it keeps per chart."""

    url: str
    engine: Engine
    sheet: SymbolSheet
    max_points: int = 500
    schema: queries.SchemaGate = field(default_factory=queries.SchemaGate)
    stale_after_s: float = 10.0  # a worker whose counters are older than this shows as stale, not current


class ReadProblem(Exception):
    """A read that failed in a way the page explains instead of showing data."""


def read(source: Source, query: Callable[..., Any], *args: Any) -> Any:
    """Run a query; a missing, empty, older, locked or broken database becomes a :class:`ReadProblem`."""
    try:
        queries.check_exists(source.url)
        if older := source.schema.older(source.engine):
            raise ReadProblem(OLD_SCHEMA.format(state=older.describe(), head=older.head))
        return query(source.engine, *args)
    except queries.DatabaseMissing as exc:
        raise ReadProblem(MISSING_DB.format(path=exc)) from None
    except SchemaError as exc:
        raise ReadProblem(f"DATABASE SCHEMA UNKNOWN — {exc}") from None
    except DatabaseError as exc:
        raise ReadProblem(explain(exc)) from None


def explain(exc: DatabaseError) -> str:
    message = str(exc.orig).lower()
    if isinstance(exc, OperationalError) and ("locked" in message or "busy" in message):
        return LOCKED_DB  # SQLite: a writer holds the file past the busy timeout
    if "statement timeout" in message or "lock timeout" in message:
        return LOCKED_DB  # PostgreSQL: queued behind a table lock (a migration) past the statement timeout
    if "no such table" in message or ("relation" in message and "does not exist" in message):
        return EMPTY_DB  # SQLite / PostgreSQL: the worker has not created the schema yet
    return f"DATABASE ERROR — {exc.orig}"


# ---------------------------------------------------------------- symbol list


def symbol_choices(source: Source, current: str | None, shown: list[dict[str, str]] | None) -> tuple[Any, Any]:
    """(options, value) for the picker; ``no_update`` where nothing changed, so the page stays still."""
    try:
        names = read(source, queries.symbols)
    except ReadProblem:
        return dash.no_update, dash.no_update
    options = [{"label": describe(name, source.sheet), "value": name} for name in names]
    value = current if current in names else (names[0] if names else None)
    return (dash.no_update if options == shown else options), (dash.no_update if value == current else value)


# ---------------------------------------------------------------- the symbol's view

VIEW_OUTPUTS: tuple[tuple[str, str], ...] = (
    (ids.CURSOR, "data"),
    (ids.STATUS, "children"),
    (ids.STATUS, "className"),
    *((kpi, "children") for kpi in KPI_OUTPUTS),
    (ids.SIGNALS, "children"),
    (ids.TECHNICALS, "children"),
    (ids.SYMBOL_INFO, "children"),
)


def view_update(source: Source, symbol: str | None, cursor: dict[str, Any] | None) -> dict[tuple[str, str], Any]:
    """What changes on the page for this refresh, keyed by (component id, property)."""
    cursor = cursor or NO_CURSOR
    if symbol is None:
        return _no_symbol_status(source)
    redraw = cursor.get("symbol") != symbol
    try:
        rows = read(source, queries.rows_after, symbol, 0 if redraw else cursor["last_id"], source.max_points)
        if not rows and not redraw and read(source, queries.latest_id, symbol) < cursor["last_id"]:
            redraw, rows = True, read(source, queries.latest_rows, symbol, source.max_points)
        rates = read(source, queries.hit_rates, symbol) if rows else {}
        if rows:
            rows[-1].update(read(source, user_models.latest_calls, rows[-1]))
    except ReadProblem as problem:
        return _status(str(problem), error=True)
    if not rows:
        return _status(status_text(cursor) if not redraw else f"{symbol}: no rows yet.", error=False)
    rows = jsonable(rows)
    redraw = redraw or len(rows) >= source.max_points
    return _with_rows(source, symbol, cursor, rows, rates, redraw)


def _status(message: str, error: bool) -> dict[tuple[str, str], Any]:
    return {(ids.STATUS, "children"): message, (ids.STATUS, "className"): "status error" if error else "status"}


def _no_symbol_status(source: Source) -> dict[tuple[str, str], Any]:
    """No symbol chosen: the overview is showing; the status line only says why the database cannot be read."""
    try:
        names = read(source, queries.symbols)
    except ReadProblem as problem:
        return _status(str(problem), error=True)
    return _status("" if names else EMPTY_DB, error=False)


def status_text(cursor: dict[str, Any]) -> str:
    return WARMING.format(symbol=cursor["symbol"], rows=cursor["rows"]) if cursor.get("warming") else ""


def jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Timestamps as ISO text (what Plotly's date axis and the JSON payload want)."""
    for row in rows:
        if isinstance(row.get("timestamp"), datetime):
            row["timestamp"] = row["timestamp"].isoformat(sep=" ")
    return rows


def _with_rows(
    source: Source,
    symbol: str,
    cursor: dict[str, Any],
    rows: list[dict[str, Any]],
    rates: dict[str, dict[str, dict[str, Any]]],
    redraw: bool,
) -> dict[tuple[str, str], Any]:
    last = rows[-1]
    count = len(rows) if redraw else min(cursor["rows"] + len(rows), source.max_points)
    new_cursor = {"symbol": symbol, "last_id": last["id"], "rows": count, "warming": last["macd_signal"] is None}
    update = {
        (ids.CURSOR, "data"): new_cursor,
        **_status(status_text(new_cursor), error=False),
        **dict(zip(((k, "children") for k in KPI_OUTPUTS), kpis(last), strict=True)),
        (ids.SIGNALS, "children"): signals_table(last, rates),
        (ids.TECHNICALS, "children"): technicals_table(last),
    }
    if redraw:  # the chart is drawn by dashboard.symbol_view (it reads by time range)
        update[(ids.SYMBOL_INFO, "children")] = exchange_line(symbol, source.sheet)
    return update


def kpis(last: dict[str, Any]) -> list[Any]:
    """Price, RSI (coloured as the original), MACD (green/red), volatility, time of the last tick."""
    rsi, macd = last["rsi_14"], last["macd_line"]
    return [
        fmt_price(last["current_price"]),
        html.Span(fmt_number(rsi, 1) if rsi is not None else "— warm-up", style={"color": figures.rsi_color(rsi)}),
        html.Span(fmt_number(macd, 4) if macd is not None else "— warm-up", style={"color": figures.macd_color(macd)}),
        fmt_percent(last["volatility_20"]),
        str(last["timestamp"]).split(".")[0],
    ]


def _rate(row: dict[str, Any] | None, key: str) -> str:
    return "—" if not row or row.get(key) is None else f"{row[key] * 100:.1f}%"


def _call_cell(last: dict[str, Any], name: str) -> html.Td:
    arrow, label, color = figures.signal_look(last.get(name))
    probability = last.get(f"{name}_p_up")
    detail = [html.Span(f" {probability:.2f}", className="muted")] if probability is not None else []
    return html.Td([html.Span(f"{arrow} {label}", style={"color": color}), *detail], className="call")


def signals_table(last: dict[str, Any], rates: dict[str, dict[str, dict[str, Any]]]) -> html.Div:
    """Each signal's current call, its live hit rates (symbol, rolling 20, all symbols) and the always-up baseline."""
    head = html.Tr([html.Th(h) for h in ("SIGNAL", "CALL  p↑", "HIT 20", "HIT", "ALL SYM", "ALWAYS ▲")])
    mine, pooled = rates.get(last["symbol"], {}), rates.get(ALL_SYMBOLS, {})
    body = [
        html.Tr(
            [
                html.Td(name.replace("_Rule", " rule")),
                _call_cell(last, name),
                html.Td(_rate(mine.get(name), "hit_rate_20")),
                html.Td(_rate(mine.get(name), "hit_rate")),
                html.Td(_rate(pooled.get(name), "hit_rate")),
                html.Td(_rate(mine.get(name), "baseline_up_rate"), className="muted"),
            ],
            className="rule-row" if name in RULE_COLUMNS else "model-row",
        )
        for name in (*user_models.model_names(last, rates.values()), *RULE_COLUMNS)
    ]
    version = last.get("model_version") or "none loaded yet (TRAINING)"
    scored = max((row.get("n") or 0 for row in mine.values()), default=0)
    note = f"models {version} · hit = next tick moved the called way · {scored:,} calls scored on this symbol"
    return html.Div([html.Table([head, *body], className="grid signals"), html.Div(note, className="footnote")])


def technicals_table(last: dict[str, Any]) -> html.Table:
    items = [
        ("Momentum (10)", fmt_percent(last["momentum_10"], 2)),
        ("Price change", fmt_number(last["price_change_pct"], 2, " %")),
        ("SMA 5", fmt_price(last["sma_5"])),
        ("SMA 10", fmt_price(last["sma_10"])),
        ("SMA 20", fmt_price(last["sma_20"])),
        ("EMA 12", fmt_price(last["ema_12"])),
        ("EMA 26", fmt_price(last["ema_26"])),
        ("BB upper", fmt_price(last["bb_upper"])),
        ("BB middle", fmt_price(last["bb_middle"])),
        ("BB lower", fmt_price(last["bb_lower"])),
        ("Volatility (20, ann.)", fmt_percent(last["volatility_20"])),
        ("Last tick volume", fmt_number(last.get("volume"), 0)),
    ]
    return html.Table([html.Tr([html.Td(k), html.Td(v)]) for k, v in items], className="grid")


# ---------------------------------------------------------------- pipeline health


def health_update(source: Source, now: float | None = None) -> tuple[Any, str, str]:
    """(health panel, clock, models note) from ``pipeline_counters``: every worker, their sum, stale ones marked."""
    now = time.time() if now is None else now
    clock = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
    try:
        workers = read(source, queries.counters)
    except ReadProblem as problem:
        return html.Div(str(problem).split(" — ")[0], className="muted"), clock, ""
    if not workers:
        return html.Div("no counters yet — is the worker running?", className="muted"), clock, ""
    views = [
        WorkerView(name, figures, _epoch(written), now - _epoch(written) > source.stale_after_s)
        for name, (figures, written) in workers.items()
    ]
    current = [v for v in views if not v.stale]
    total = sum_workers(current)
    newest = max(views, key=lambda v: v.written)  # with every worker stale, the note still says what the last one saw
    return health_table(views, total, now), clock, models_note(total if current else newest.figures)


@dataclass(frozen=True)
class WorkerView:
    """One worker's row set in the health panel; ``stale``: it has not written for ``stale_after_s``."""

    name: str
    figures: dict[str, float]
    written: float
    stale: bool


ADDITIVE = ("ticks_per_s", "rejected_total", "stale_total", "ticks_processed", "rows_written", "training_rows")


def sum_workers(workers: list[WorkerView]) -> dict[str, float]:
    """The current workers as one: counts and rates add up, the newest tick counts, models are loaded only if all have."""
    total: dict[str, float] = {}
    for view in workers:
        for name, value in view.figures.items():
            if name in ADDITIVE:
                total[name] = total.get(name, 0.0) + value
            elif name == "last_tick_time":
                total[name] = max(total.get(name, value), value)
            elif name == "models_loaded":
                total[name] = min(total.get(name, value), value)
            else:
                total[name] = max(total.get(name, value), value)
    return total


def _epoch(written: datetime) -> float:
    return written.replace(tzinfo=UTC).timestamp()


def models_note(counters: dict[str, float]) -> str:
    """While the models say TRAINING: how far the worker is from its first models (empty once they are loaded).

    Once loaded: a warning if they were trained on another tick spacing (the worker's log has both values).
    """
    if counters.get("models_loaded") and counters.get("models_tick_spacing_mismatch"):
        return (
            "models trained on another tick spacing than FLAMEBACK_PERIODS_PER_YEAR: their volatility input is "
            "off scale (see the worker log); retrain"
        )
    if counters.get("models_loaded", 1) or "training_rows_needed" not in counters:
        return ""
    if counters.get("training_active"):
        return f"TRAINING — fitting the first models on {counters['training_rows']:,.0f} rows of history…"
    have, need = counters.get("training_rows", 0), counters["training_rows_needed"]
    return (
        f"TRAINING — {have:,.0f} of the {need:,.0f} warmed-up rows of history the first models need; "
        "they train as soon as there are enough"
    )


def _age(then: float | None, now: float) -> str:
    return "—" if then is None else f"{max(now - then, 0.0):,.1f} s"


def health_table(workers: list[WorkerView], total: dict[str, float], now: float) -> html.Table:
    """One column per worker (named, stale ones marked), and with several a first column summing the current ones."""
    columns = [(view.name or "worker", view.figures, view.written, view.stale) for view in workers]
    if len(workers) > 1:
        newest = max((v.written for v in workers if not v.stale), default=None)
        current = sum(not v.stale for v in workers)
        columns.insert(0, (f"all ({current} current)", total, newest, False))
    header = html.Tr(
        [html.Th("")]
        + [
            html.Th(f"{name} (stale)" if stale else name, style={"color": RED} if stale else {})
            for name, _f, _w, stale in columns
        ]
    )
    rows = [
        html.Tr([html.Td(label)] + [html.Td(cell(figures, written, now)) for _n, figures, written, _s in columns])
        for label, cell in HEALTH_ROWS
    ]
    return html.Table([header, *rows], className="grid")


def _rejected(figures: dict[str, float], _written: float | None, _now: float) -> Any:
    rejected = int(figures.get("rejected_total", 0))
    return html.Span(f"{rejected:,}", style={"color": RED if rejected else GREEN})


HEALTH_ROWS: list[tuple[str, Callable[[dict[str, float], float | None, float], Any]]] = [
    ("Ticks/s", lambda f, _w, _n: fmt_number(f.get("ticks_per_s"), 1)),
    ("Last tick age", lambda f, _w, now: _age(f.get("last_tick_time"), now)),
    ("Rejected", _rejected),
    ("Stale / duplicate", lambda f, _w, _n: fmt_number(f.get("stale_total"), 0)),
    ("Same time, no seq", lambda f, _w, _n: fmt_number(f.get("same_timestamp_total"), 0)),
    ("Ticks processed", lambda f, _w, _n: fmt_number(f.get("ticks_processed"), 0)),
    ("Rows written", lambda f, _w, _n: fmt_number(f.get("rows_written"), 0)),
    ("Counters age", lambda _f, written, now: html.Span(_age(written, now), style={"color": GREY})),
]


# ---------------------------------------------------------------- the market overview and the route


def overview_update(source: Source, window: str | None, now: datetime | None = None) -> tuple[Any, Any]:
    """(table rows, table columns) of the overview: three reads, a few index seeks per symbol."""
    window = window if window in overview.WINDOWS else overview.DEFAULT_WINDOW
    try:
        latest = read(source, queries.overview_latest)
        cut = overview.window_cut(latest, window)
        prices = read(source, queries.prices_at, cut) if cut is not None else {}
        rates = read(source, queries.recent_hit_rates) if latest else {}
    except ReadProblem:
        return dash.no_update, dash.no_update  # the status line says why (the view callback reads it)
    rows = overview.overview_rows(latest, prices, rates, source.sheet, now or overview.utc_now_naive())
    mine = user_models.scored_names(rates)
    return user_models.with_hit_rates(rows, rates, mine), user_models.overview_columns(
        overview.table_columns(window), mine
    )


def cue_update(source: Source, now: datetime | None = None) -> tuple[str, str]:
    """The header's LIVE / REPLAY cue from the newest tick's own time against the clock."""
    try:
        newest = read(source, queries.newest_tick)
    except ReadProblem:
        newest = None
    return overview.feed_cue(newest, now or overview.utc_now_naive())


SHOWN, HIDDEN = {}, {"display": "none"}
ROUTE_OUTPUTS: tuple[tuple[str, str], ...] = (
    (ids.URL, "search"),
    (ids.SYMBOL, "options"),
    (ids.SYMBOL, "value"),
    (ids.OVERVIEW, "active_cell"),
    (ids.OVERVIEW_PANE, "style"),
    (ids.SYMBOL_PANE, "style"),
    (ids.NOTICE, "children"),
    (ids.MODELS_PANE, "style"),
)


def route(
    source: Source,
    trigger: str | None,
    search: str | None,
    picked: str | None,
    cell: dict[str, Any] | None,
    shown: list[dict[str, str]] | None = None,
) -> dict[tuple[str, str], Any]:
    """Which view shows, from what changed: the URL (a link, back/forward), the picker, a click on a row, or
    the symbol list's timer.

    The URL is the record: a pick or a click writes it (one history entry each), a URL
    change reads it. A symbol the database does not have shows the overview with a notice.
    The picker's options are set here too, in the same update as its value: the
    dropdown drops a value that is not among its options.
    """
    options, _value = symbol_choices(source, None, shown)
    update = {} if options is dash.no_update else {(ids.SYMBOL, "options"): options}
    if trigger == ids.SYMBOLS_TICK:
        return update
    return {**update, **_route(source, trigger, search, picked, cell)}


def _route(
    source: Source, trigger: str | None, search: str | None, picked: str | None, cell: dict[str, Any] | None
) -> dict[tuple[str, str], Any]:
    if trigger == ids.OVERVIEW:
        if not cell or not cell.get("row_id"):
            return {}
        return {
            **_show(cell["row_id"]),
            (ids.URL, "search"): links.search_for(cell["row_id"], links.range_in(search)),
            (ids.OVERVIEW, "active_cell"): None,
        }
    if trigger == ids.SYMBOL:
        if not picked or picked == links.symbol_in(search):
            return {}
        return {**_show(picked), (ids.URL, "search"): links.search_for(picked, links.range_in(search))}
    if links.view_in(search) == links.MODELS_VIEW:
        return {**_show(None), (ids.OVERVIEW_PANE, "style"): HIDDEN, (ids.MODELS_PANE, "style"): SHOWN}
    wanted = links.symbol_in(search)
    if wanted is None:
        return _show(None)
    if not _known(source, wanted):
        return {**_show(None), (ids.NOTICE, "children"): links.UNKNOWN_SYMBOL.format(symbol=wanted)}
    return _show(wanted)


def _show(symbol: str | None) -> dict[tuple[str, str], Any]:
    return {
        (ids.SYMBOL, "value"): symbol,
        (ids.OVERVIEW_PANE, "style"): HIDDEN if symbol else SHOWN,
        (ids.SYMBOL_PANE, "style"): SHOWN if symbol else HIDDEN,
        (ids.NOTICE, "children"): "",
        (ids.MODELS_PANE, "style"): HIDDEN,
    }


def _known(source: Source, symbol: str) -> bool:
    """Whether the database has the symbol; when it cannot be read, trust the link (the status line explains)."""
    try:
        return symbol in read(source, queries.symbols)
    except ReadProblem:
        return True


# ---------------------------------------------------------------- wiring


def register_callbacks(app: dash.Dash, source: Source) -> None:
    """Attach the callbacks: route (with the symbol list), overview, view, health, feed cue.

    The symbol list has its own, slower interval: a callback whose input is another
    callback's output waits for it, so sharing one interval would put the symbol query
    in front of every view refresh (and a slow one would starve the view).
    """

    @app.callback(
        *(Output(i, p) for i, p in ROUTE_OUTPUTS),
        Input(ids.URL, "search"),
        Input(ids.SYMBOL, "value"),
        Input(ids.OVERVIEW, "active_cell"),
        Input(ids.SYMBOLS_TICK, "n_intervals"),
        State(ids.SYMBOL, "options"),
    )
    def follow_route(
        search: str | None, picked: str | None, cell: dict[str, Any] | None, _n: int, shown: list[dict[str, str]] | None
    ) -> list[Any]:
        update = route(source, dash.ctx.triggered_id, search, picked, cell, shown)
        return [update.get(key, dash.no_update) for key in ROUTE_OUTPUTS]

    @app.callback(
        Output(ids.OVERVIEW, "data"),
        Output(ids.OVERVIEW, "columns"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.WINDOW, "value"),
        Input(ids.SYMBOL, "value"),
        Input(ids.URL, "search"),
    )
    def refresh_overview(_n: int, window: str | None, symbol: str | None, search: str | None) -> tuple[Any, Any]:
        if symbol is not None or links.view_in(search) == links.MODELS_VIEW:
            return dash.no_update, dash.no_update  # another view is showing: the overview is not read
        return overview_update(source, window)

    @app.callback(
        Output(ids.FEED_CUE, "children"), Output(ids.FEED_CUE, "className"), Input(ids.SYMBOLS_TICK, "n_intervals")
    )
    def refresh_cue(_n: int) -> tuple[str, str]:
        return cue_update(source)

    @app.callback(
        *(Output(i, p) for i, p in VIEW_OUTPUTS),
        Input(ids.TICK, "n_intervals"),
        Input(ids.SYMBOL, "value"),
        State(ids.CURSOR, "data"),
    )
    def refresh_view(_n: int, symbol: str | None, cursor: dict[str, Any] | None) -> list[Any]:
        update = view_update(source, symbol, cursor)
        return [update.get(key, dash.no_update) for key in VIEW_OUTPUTS]

    @app.callback(
        Output(ids.HEALTH, "children"),
        Output(ids.CLOCK, "children"),
        Output(ids.MODELS_NOTE, "children"),
        Input(ids.TICK, "n_intervals"),
    )
    def refresh_health(_n: int) -> tuple[Any, str, str]:
        return health_update(source)
