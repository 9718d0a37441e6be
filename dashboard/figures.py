"""Plotly figures and display helpers for the terminal (pure: rows in, figures and text out).

Figures are plain dicts (no ``go.Figure`` validation on every refresh). Each chart has
a fixed list of traces, so a refresh appends points with ``extendData`` in the same
trace order (:func:`price_extension` etc.) instead of resending the figure. Every
layout keeps ``uirevision`` = the symbol: a user's zoom and pan survive refreshes
and reset only when the symbol changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

AMBER, GREEN, RED, YELLOW, CYAN, GREY = "#ffb000", "#00d26a", "#ff3b3b", "#ffd400", "#27c3ff", "#8a8a8a"
FONT = "DejaVu Sans Mono, Liberation Mono, Menlo, Consolas, monospace"
Row = dict[str, Any]
Extension = tuple[dict[str, list[list[Any]]], list[int], int]

PRICE_TRACES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("bb_upper", "BB upper", {"line": {"color": GREY, "width": 1, "dash": "dot"}}),
    ("bb_lower", "BB lower", {"line": {"color": GREY, "width": 1, "dash": "dot"}, "fill": "tonexty",
                              "fillcolor": "rgba(138,138,138,0.10)"}),
    ("sma_20", "SMA 20", {"line": {"color": AMBER, "width": 1.2}}),
    ("sma_10", "SMA 10", {"line": {"color": YELLOW, "width": 1.2}}),
    ("current_price", "Price", {"line": {"color": CYAN, "width": 2}}),
)  # fmt: skip


def column(rows: Sequence[Row], name: str) -> list[Any]:
    return [row.get(name) for row in rows]


def histogram_up(row: Row) -> float | None:
    value = row.get("macd_histogram")
    return value if value is not None and value >= 0 else None


def histogram_down(row: Row) -> float | None:
    value = row.get("macd_histogram")
    return value if value is not None and value < 0 else None


# (value of a row, trace) for the MACD chart; histogram split in two bars so colours need no arrays.
MACD_TRACES: tuple[tuple[Callable[[Row], Any], dict[str, Any]], ...] = (
    (histogram_up, {"type": "bar", "name": "Hist +", "marker": {"color": GREEN}, "showlegend": False}),
    (histogram_down, {"type": "bar", "name": "Hist −", "marker": {"color": RED}, "showlegend": False}),
    (lambda row: row.get("macd_line"), {"type": "scatter", "mode": "lines", "name": "MACD",
                                        "line": {"color": CYAN, "width": 1.5}}),
    (lambda row: row.get("macd_signal"), {"type": "scatter", "mode": "lines", "name": "Signal",
                                          "line": {"color": AMBER, "width": 1.5}}),
)


def _layout(symbol: str, title: str, height: int, **extra: Any) -> dict[str, Any]:
    axis = {"gridcolor": "#1a1a1a", "zerolinecolor": "#333", "linecolor": "#333", "tickfont": {"size": 10}}
    return {
        "paper_bgcolor": "#000", "plot_bgcolor": "#050505", "height": height, "uirevision": symbol,
        "margin": {"l": 56, "r": 12, "t": 30, "b": 26}, "hovermode": "x unified",
        "title": {"text": title, "font": {"color": AMBER, "size": 12, "family": FONT}, "x": 0.01, "y": 0.97},
        "font": {"family": FONT, "color": "#c8c8c8", "size": 11},
        "legend": {"orientation": "h", "y": 0.99, "yanchor": "top", "x": 0.01, "xanchor": "left",
                   "font": {"size": 10}, "bgcolor": "rgba(0,0,0,0.65)"},
        "xaxis": {**axis, "type": "date"}, "yaxis": {**axis},
        **extra,
    }  # fmt: skip


def _line(x: list[Any], y: list[Any], name: str, style: dict[str, Any]) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name, "connectgaps": False, **style}


VOLUME_TRACE: dict[str, Any] = {"type": "bar", "name": "Volume", "yaxis": "y2", "showlegend": False,
                                 "marker": {"color": "rgba(0, 200, 255, 0.45)"}}  # fmt: skip


def price_figure(rows: Sequence[Row], symbol: str) -> dict[str, Any]:
    """Price, SMAs and Bollinger bands above; each tick's traded volume in a strip below (empty without volume)."""
    x = column(rows, "timestamp")
    data = [_line(x, column(rows, key), name, style) for key, name, style in PRICE_TRACES]
    data.append({**VOLUME_TRACE, "x": x, "y": column(rows, "volume")})
    layout = _layout(symbol, f"{symbol} · PRICE · SMA 10/20 · BOLLINGER (20, 2) · VOLUME", 340)
    layout["yaxis"] = {**layout["yaxis"], "domain": [0.24, 1.0]}
    layout["yaxis2"] = {**layout["yaxis"], "domain": [0.0, 0.2], "rangemode": "tozero", "nticks": 3}
    return {"data": data, "layout": layout}


def rsi_figure(rows: Sequence[Row], symbol: str) -> dict[str, Any]:
    guides = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": level, "y1": level,
               "line": {"color": color, "width": 1, "dash": "dash"}} for level, color in ((70, GREEN), (30, RED))]
    layout = _layout(symbol, "RSI (14) · 30 / 70", 200, shapes=guides, showlegend=False)
    layout["yaxis"] = {**layout["yaxis"], "range": [0, 100], "tickvals": [0, 30, 50, 70, 100]}
    data = [_line(column(rows, "timestamp"), column(rows, "rsi_14"), "RSI 14", {"line": {"color": AMBER}})]
    return {"data": data, "layout": layout}  # fmt: skip


def macd_figure(rows: Sequence[Row], symbol: str) -> dict[str, Any]:
    x = column(rows, "timestamp")
    data = [{**style, "x": x, "y": [value(r) for r in rows]} for value, style in MACD_TRACES]
    return {"data": data, "layout": _layout(symbol, "MACD (12, 26, 9) · SIGNAL · HISTOGRAM", 200, bargap=0.1)}


def _extension(rows: Sequence[Row], ys: list[list[Any]], max_points: int) -> Extension:
    x = column(rows, "timestamp")
    return {"x": [x] * len(ys), "y": ys}, list(range(len(ys))), max_points


def price_extension(rows: Sequence[Row], max_points: int) -> Extension:
    ys = [column(rows, key) for key, _name, _style in PRICE_TRACES]
    return _extension(rows, [*ys, column(rows, "volume")], max_points)


def rsi_extension(rows: Sequence[Row], max_points: int) -> Extension:
    return _extension(rows, [column(rows, "rsi_14")], max_points)


def macd_extension(rows: Sequence[Row], max_points: int) -> Extension:
    return _extension(rows, [[value(r) for r in rows] for value, _style in MACD_TRACES], max_points)


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
    """(symbol, label, colour) of a signal value: UP, DOWN, NEUTRAL, TRAINING or none (warm-up)."""
    looks = {"UP": ("▲", "UP", GREEN), "DOWN": ("▼", "DOWN", RED), "NEUTRAL": ("●", "NEUTRAL", YELLOW),
             "TRAINING": ("◌", "TRAINING", GREY)}  # fmt: skip
    return looks.get(signal or "", ("–", "WARM-UP", GREY))


def fmt_number(value: float | None, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def fmt_price(value: float | None) -> str:
    """Prices under 10 (FX, rates) get four decimals, the rest two."""
    return fmt_number(value, 4 if value is not None and abs(value) < 10 else 2)


def fmt_percent(fraction: float | None, digits: int = 1) -> str:
    return fmt_number(None if fraction is None else fraction * 100, digits, " %")
