"""The terminal's page: header, symbol picker, KPIs, charts, signals, technicals, health."""

from __future__ import annotations

from dash import dcc, html

from dashboard import ids


def _kpi(label: str, component_id: str) -> html.Div:
    return html.Div([html.Div(label, className="kpi-label"), html.Div("—", id=component_id, className="kpi-value")],
                    className="kpi")  # fmt: skip


def _panel(title: str, body: object, class_name: str = "panel") -> html.Div:
    return html.Div([html.Div(title, className="panel-title"), body], className=class_name)


def build_layout(refresh_s: float) -> html.Div:
    return html.Div([
        html.Div([
            html.Span("FLAMEBACK", className="brand"),
            html.Span(" REAL-TIME ML TRADING TERMINAL", className="brand-sub"),
            html.Span(id=ids.CLOCK, className="clock"),
        ], className="header"),
        html.Div([
            dcc.Dropdown(id=ids.SYMBOL, options=[], placeholder="Select a symbol…", clearable=False,
                         className="picker"),
            html.Div(id=ids.SYMBOL_INFO, className="symbol-info"),
        ], className="picker-row"),
        html.Div(id=ids.STATUS, className="status"),
        html.Div([_kpi("PRICE", ids.KPI_PRICE), _kpi("RSI (14)", ids.KPI_RSI), _kpi("MACD", ids.KPI_MACD),
                  _kpi("VOLATILITY (20, ANN.)", ids.KPI_VOL), _kpi("LAST TICK", ids.KPI_LAST)], className="kpis"),
        html.Div([
            html.Div([
                dcc.Graph(id=ids.PRICE_CHART, config={"displaylogo": False}),
                dcc.Graph(id=ids.RSI_CHART, config={"displaylogo": False}),
                dcc.Graph(id=ids.MACD_CHART, config={"displaylogo": False}),
            ], className="charts"),
            html.Div([
                _panel("SIGNALS · NEXT MOVE", html.Div(id=ids.SIGNALS)),
                _panel("TECHNICALS", html.Div(id=ids.TECHNICALS)),
                _panel("PIPELINE", html.Div(id=ids.HEALTH)),
            ], className="side"),
        ], className="main"),
        dcc.Store(id=ids.ROWS, data={"symbol": None, "last_id": 0, "rows": []}),
        dcc.Interval(id=ids.TICK, interval=int(refresh_s * 1000), n_intervals=0),
    ], className="terminal")  # fmt: skip
