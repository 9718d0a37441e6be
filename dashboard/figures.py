"""Plotly figures and small display helpers for the terminal (pure: rows in, figures out).

Every chart keeps ``uirevision`` = the symbol, so a user's zoom and pan survive the
periodic refresh and reset only when the symbol changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

AMBER, GREEN, RED, YELLOW, CYAN, GREY = "#ffb000", "#00d26a", "#ff3b3b", "#ffd400", "#27c3ff", "#8a8a8a"
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"


def _layout(fig: go.Figure, symbol: str, title: str, height: int) -> go.Figure:
    fig.update_layout(
        template="plotly_dark", paper_bgcolor="#000", plot_bgcolor="#050505", height=height,
        margin={"l": 50, "r": 10, "t": 28, "b": 24}, uirevision=symbol,
        title={"text": title, "font": {"color": AMBER, "size": 13, "family": FONT}, "x": 0.01},
        font={"family": FONT, "color": "#d0d0d0", "size": 11},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right", "font": {"size": 10}},
        xaxis={"gridcolor": "#1c1c1c"}, yaxis={"gridcolor": "#1c1c1c"},
    )  # fmt: skip
    return fig


def column(rows: Sequence[dict[str, Any]], name: str) -> list[Any]:
    return [r.get(name) for r in rows]


def price_figure(rows: Sequence[dict[str, Any]], symbol: str) -> go.Figure:
    x = column(rows, "timestamp")
    fig = go.Figure()
    fig.add_scatter(x=x, y=column(rows, "bb_upper"), name="BB upper", line={"color": GREY, "width": 1, "dash": "dot"})
    fig.add_scatter(x=x, y=column(rows, "bb_lower"), name="BB lower", line={"color": GREY, "width": 1, "dash": "dot"},
                    fill="tonexty", fillcolor="rgba(138,138,138,0.08)")  # fmt: skip
    fig.add_scatter(x=x, y=column(rows, "sma_20"), name="SMA 20", line={"color": AMBER, "width": 1})
    fig.add_scatter(x=x, y=column(rows, "sma_10"), name="SMA 10", line={"color": YELLOW, "width": 1})
    fig.add_scatter(x=x, y=column(rows, "current_price"), name="Price", line={"color": CYAN, "width": 2})
    return _layout(fig, symbol, f"{symbol}  PRICE · SMA 10/20 · BOLLINGER 20,2", 360)


def rsi_figure(rows: Sequence[dict[str, Any]], symbol: str) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=column(rows, "timestamp"), y=column(rows, "rsi_14"), name="RSI 14", line={"color": AMBER})
    for level, color in ((70, GREEN), (30, RED)):
        fig.add_hline(y=level, line={"color": color, "width": 1, "dash": "dash"})
    fig.update_yaxes(range=[0, 100])
    return _layout(fig, symbol, "RSI (14)", 220)


def macd_figure(rows: Sequence[dict[str, Any]], symbol: str) -> go.Figure:
    x = column(rows, "timestamp")
    hist = column(rows, "macd_histogram")
    fig = go.Figure()
    fig.add_bar(x=x, y=hist, name="Histogram",
                marker_color=[GREEN if (h or 0) >= 0 else RED for h in hist])  # fmt: skip
    fig.add_scatter(x=x, y=column(rows, "macd_line"), name="MACD", line={"color": CYAN, "width": 1.5})
    fig.add_scatter(x=x, y=column(rows, "macd_signal"), name="Signal", line={"color": AMBER, "width": 1.5})
    return _layout(fig, symbol, "MACD (12, 26, 9)", 220)


def rsi_color(value: float | None) -> str:
    """The original's colours: green above 70, red below 30, yellow otherwise."""
    if value is None:
        return GREY
    return GREEN if value > 70 else RED if value < 30 else YELLOW


def macd_color(value: float | None) -> str:
    if value is None:
        return GREY
    return GREEN if value > 0 else RED if value < 0 else YELLOW


def signal_look(signal: str | None) -> tuple[str, str, str]:
    """(arrow, label, colour) for a signal value."""
    if signal == "UP":
        return "▲", "UP", GREEN
    if signal == "DOWN":
        return "▼", "DOWN", RED
    if signal == "NEUTRAL":
        return "●", "NEUTRAL", YELLOW
    if signal == "TRAINING":
        return "◌", "TRAINING", GREY
    return "–", "WARM-UP", GREY


def fmt_number(value: float | None, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"
