"""The symbol view's chart pane: range buttons, the signal to mark, the linked figure, and their wiring.

The range lives in the URL (``?symbol=...&range=1Y``) like the symbol, so a link
opens the same view and back/forward steps through range changes too. A link with a
range this terminal does not know shows a message and the default range instead of an
error. The figure is redrawn only when the symbol, range or marked signal changes or
the symbol has a newer row (one index seek per refresh decides), so a quiet market
costs no payload; :func:`chart_update` and :func:`range_route` are plain functions for
tests and ``bench/symbol_view.py``.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboard import history, ids, links, queries
from dashboard.callbacks import ReadProblem, Source, read
from dashboard.linked_chart import SIGNALS, linked_figure
from flameback_app.storage.db import MODEL_COLUMNS

UNKNOWN_RANGE = "UNKNOWN RANGE {range!r} in the link — showing {default} (the ranges are {names})."
CHART_CONFIG = {
    "displaylogo": False,
    "showSendToCloud": False,
    "showEditInChartStudio": False,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}
DEFAULT_SIGNAL = SIGNALS[0]


def pane() -> html.Div:
    """The chart bar (range buttons, marked signal, a notice) above the one linked figure."""
    empty = {
        "data": [],
        "layout": {
            "paper_bgcolor": "#000",
            "plot_bgcolor": "#000",
            "height": 780,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
        },
    }
    return html.Div(
        [
            html.Div(
                [
                    html.Span("RANGE", className="picker-label"),
                    dcc.RadioItems(
                        id=ids.RANGE,
                        options=list(history.RANGES),
                        value=history.DEFAULT_RANGE,
                        inline=True,
                        className="range-buttons",
                    ),
                    html.Span("BARS", className="picker-label"),
                    dcc.RadioItems(
                        id=ids.BAR,
                        options=list(history.BAR_SIZES),
                        value=history.DEFAULT_BAR,
                        inline=True,
                        className="range-buttons",
                    ),
                    html.Span("MARKERS", className="picker-label"),
                    dcc.Dropdown(
                        id=ids.MARKED,
                        options=[{"label": s.replace("_Rule", " rule"), "value": s} for s in SIGNALS],
                        value=DEFAULT_SIGNAL,
                        clearable=False,
                        searchable=False,
                        className="marked-picker",
                    ),
                    html.Span(id=ids.RANGE_NOTICE, className="range-notice"),
                ],
                className="chart-bar",
            ),
            dcc.Graph(id=ids.CHART, figure=empty, config=CHART_CONFIG, className="chart"),
            dcc.Store(id=ids.CHART_KEY, data=None),
        ],
        className="charts",
    )


def range_route(trigger: str | None, search: str | None, picked: str | None) -> tuple[Any, Any, Any]:
    """(URL search, range shown, notice): a link sets the range; a button writes it into the link."""
    if trigger == ids.RANGE:
        symbol = links.symbol_in(search)
        if symbol is None or picked not in history.RANGES or links.range_in(search) == picked:
            return dash.no_update, dash.no_update, ""
        return links.search_for(symbol, picked), dash.no_update, ""
    wanted = links.range_in(search)
    if wanted is None or wanted in history.RANGES:
        shown = wanted or history.DEFAULT_RANGE
        return dash.no_update, dash.no_update if shown == picked else shown, ""
    notice = UNKNOWN_RANGE.format(range=wanted, default=history.DEFAULT_RANGE, names=", ".join(history.RANGES))
    return dash.no_update, history.DEFAULT_RANGE, notice


def zoomed_range(relayout: dict[str, Any] | None) -> list[Any] | None:
    """The time range the user zoomed to (Plotly's ``relayoutData``), or None (never zoomed, or zoomed back out)."""
    relayout = relayout or {}
    if "xaxis.range[0]" in relayout and "xaxis.range[1]" in relayout:
        return [relayout["xaxis.range[0]"], relayout["xaxis.range[1]"]]
    return relayout.get("xaxis.range")


def chart_update(
    source: Source,
    symbol: str | None,
    range_name: str | None,
    signal: str | None,
    drawn: dict[str, Any] | None,
    max_bars: int = history.MAX_BARS,
    relayout: dict[str, Any] | None = None,
    bar: str | None = None,
) -> tuple[Any, Any]:
    """(figure, key of what it shows); ``no_update`` both when the figure on the page is still current.

    A redraw for new rows of the same symbol, range and signal keeps the user's zoom
    (``relayout``: the chart's last ``relayoutData``); any other change starts unzoomed.
    """
    if symbol is None:
        return dash.no_update, dash.no_update
    range_name = range_name if range_name in history.RANGES else history.DEFAULT_RANGE
    signal = signal if signal in SIGNALS else DEFAULT_SIGNAL
    bar = bar if bar in history.BAR_SIZES else history.DEFAULT_BAR
    try:
        key = {
            "symbol": symbol,
            "range": range_name,
            "signal": signal,
            "bar": bar,
            "last_id": read(source, queries.latest_id, symbol),
        }
        if key == drawn:
            return dash.no_update, dash.no_update
        win = read(source, history.window, symbol, range_name)
        scored = tuple(dict.fromkeys((*MODEL_COLUMNS, signal)))  # the P(up) pane's models and the marked signal
        bars, width = read(source, history.bars, win, max_bars, scored, history.BAR_SIZES[bar])
    except ReadProblem:
        return dash.no_update, dash.no_update  # the status line says why (the view callback reads it)
    figure = linked_figure(bars, width, symbol, signal, range_name)
    same_view = drawn is not None and {**drawn, "last_id": key["last_id"]} == key
    if same_view and (zoom := zoomed_range(relayout)):
        figure["layout"]["xaxis"].update(range=zoom, autorange=False)
    return figure, key


def register_callbacks(app: dash.Dash, source: Source) -> None:
    """Attach the range route (URL ⇄ buttons) and the chart refresh."""

    @app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        Output(ids.RANGE, "value"),
        Output(ids.RANGE_NOTICE, "children"),
        Input(ids.URL, "search"),
        Input(ids.RANGE, "value"),
        prevent_initial_call="initial_duplicate",
    )
    def follow_range(search: str | None, picked: str | None) -> tuple[Any, Any, Any]:
        return range_route(dash.ctx.triggered_id, search, picked)

    @app.callback(
        Output(ids.CHART, "figure"),
        Output(ids.CHART_KEY, "data"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.SYMBOL, "value"),
        Input(ids.RANGE, "value"),
        Input(ids.MARKED, "value"),
        Input(ids.BAR, "value"),
        State(ids.CHART_KEY, "data"),
        State(ids.CHART, "relayoutData"),
    )
    def refresh_chart(
        _n: int,
        symbol: str | None,
        range_name: str | None,
        signal: str | None,
        bar: str | None,
        drawn: dict[str, Any] | None,
        relayout: dict[str, Any] | None,
    ) -> tuple[Any, Any]:
        return chart_update(source, symbol, range_name, signal, drawn, relayout=relayout, bar=bar)
