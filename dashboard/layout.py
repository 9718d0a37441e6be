"""The terminal's page: header, symbol picker, status line, KPIs, charts, signals, technicals, health.

Builds components only (no data): every value arrives from the refresh callbacks in
:mod:`dashboard.callbacks`. Styling lives in ``assets/terminal.css``, served by Dash.
"""

from __future__ import annotations

from dash import dash_table, dcc, html

from dashboard import alerts, drift, ids, model_decisions, model_page, overview
from dashboard.callbacks import NO_CURSOR
from dashboard.symbol_view import pane as chart_pane


def _kpi(label: str, component_id: str) -> html.Div:
    return html.Div(
        [html.Div(label, className="kpi-label"), html.Div("—", id=component_id, className="kpi-value")], className="kpi"
    )


def _panel(title: str, component_id: str) -> html.Div:
    return html.Div([html.Div(title, className="panel-title"), html.Div(id=component_id)], className="panel")


def symbols_refresh_s(refresh_s: float) -> float:
    """The symbol list changes rarely; polling it on its own slower timer keeps it off the view's path."""
    return max(2 * refresh_s, 5.0)


def overview_pane() -> html.Div:
    """The first screen: every symbol in one sortable, filterable table; a click on a row opens the symbol."""
    window = dcc.RadioItems(
        id=ids.WINDOW,
        options=list(overview.WINDOWS),
        value=overview.DEFAULT_WINDOW,
        inline=True,
        className="window-picker",
    )
    table = dash_table.DataTable(
        id=ids.OVERVIEW,
        columns=overview.table_columns(overview.DEFAULT_WINDOW),
        data=[],
        sort_action="native",
        sort_by=[{"column_id": "symbol", "direction": "asc"}],
        filter_action="native",
        page_action="none",
        fixed_rows={"headers": True},
        style_as_list_view=True,
        style_table={"maxHeight": "78vh", "overflowY": "auto"},
        style_data_conditional=overview.table_styles(),
        style_cell={
            "fontFamily": "inherit",
            "fontSize": "12px",
            "padding": "2px 6px",
            "minWidth": "64px",
            "backgroundColor": "#050505",
            "color": "#e0e0e0",
            "border": "1px solid #161616",
        },
        style_header={"backgroundColor": "#0a0a0a", "color": "#ffb000", "fontWeight": "bold"},
        style_filter={"backgroundColor": "#0a0a0a", "color": "#e0e0e0"},
        css=[{"selector": "tr:hover td", "rule": "background-color: #1a1400 !important; cursor: pointer;"}],
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Span("MARKET OVERVIEW", className="panel-title-inline"),
                    html.Span("CHANGE OVER", className="muted"),
                    window,
                    html.Span(
                        "click a row to open the symbol · type in the header row to filter (e.g. >0)", className="muted"
                    ),
                ],
                className="overview-bar",
            ),
            table,
        ],
        id=ids.OVERVIEW_PANE,
    )


def build_layout(refresh_s: float) -> html.Div:
    """The whole page; ``refresh_s`` drives the view and health, a slower timer the symbol list."""
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh=False),
            html.Div(
                [
                    html.Span("FLAMEBACK", className="brand"),
                    html.Span("REAL-TIME ML TRADING TERMINAL", className="brand-sub"),
                    html.Span(f"REFRESH {refresh_s:g}s", className="refresh"),
                    html.Span(id=ids.FEED_CUE, className="feed-cue idle"),
                    html.Span(id=ids.CLOCK, className="clock"),
                ],
                className="header",
            ),
            html.Div(
                [
                    dcc.Link("◀ MARKET OVERVIEW", href="/", id=ids.OVERVIEW_LINK, className="overview-link"),
                    model_page.link(),
                    html.Span("SECURITY", className="picker-label"),
                    dcc.Dropdown(
                        id=ids.SYMBOL,
                        options=[],
                        placeholder="search a symbol  ( / )",
                        clearable=False,
                        searchable=True,
                        className="picker",
                    ),
                    html.Div(id=ids.SYMBOL_INFO, className="symbol-info"),
                ],
                className="picker-row",
            ),
            html.Div(id=ids.STATUS, className="status"),
            html.Div(id=ids.NOTICE, className="notice"),
            overview_pane(),
            html.Div([symbol_view()], id=ids.SYMBOL_PANE, style={"display": "none"}),
            *alerts.components(),
            model_page.pane(),
            dcc.Store(id=ids.CURSOR, data=NO_CURSOR),
            dcc.Interval(id=ids.TICK, interval=int(refresh_s * 1000), n_intervals=0),
            dcc.Interval(id=ids.SYMBOLS_TICK, interval=int(symbols_refresh_s(refresh_s) * 1000), n_intervals=0),
        ],
        className="terminal",
    )


def symbol_view() -> html.Div:
    """One symbol's KPIs, charts, signals, technicals and the pipeline's health (the view a row click opens)."""
    return html.Div(
        [
            html.Div(
                [
                    _kpi("LAST PRICE", ids.KPI_PRICE),
                    _kpi("RSI (14)", ids.KPI_RSI),
                    _kpi("MACD (12,26)", ids.KPI_MACD),
                    _kpi("VOLATILITY (20, ANN.)", ids.KPI_VOL),
                    _kpi("LAST TICK", ids.KPI_LAST),
                ],
                className="kpis",
            ),
            html.Div(
                [
                    chart_pane(),
                    html.Div(
                        [
                            _panel("SIGNALS · NEXT TICK", ids.SIGNALS),
                            html.Div(id=ids.MODELS_NOTE, className="models-note"),
                            _panel("TECHNICALS", ids.TECHNICALS),
                            drift.panel(),
                            _panel("PIPELINE HEALTH", ids.HEALTH),
                            model_decisions.panel(),
                        ],
                        className="side",
                    ),
                ],
                className="main",
            ),
        ]
    )
