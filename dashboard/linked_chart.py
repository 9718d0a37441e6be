"""The symbol view's one linked figure: price, volume, RSI, MACD and the models' P(up) on ONE time axis.

Why one x axis rather than five subplots that "match": with a single axis, one zoom
moves every pane, and the crosshair (spike line across the whole plot, hover
"x unified") reads every pane at the same moment. Each pane is a y axis with its own
slice of the height (``PANES``). The figure is a plain dict (no ``go.Figure``
validation per refresh), built from :func:`dashboard.history.bars`: tick by tick as a
line when the range is short, as OHLC candles when the database bucketed it.

Markers on the price show where the chosen signal (a model or a rule) called UP or
DOWN; a filled marker is a call the scoreboard would count as right (next tick moved
the called way), an open one a wrong or not yet scored call. On bucketed bars a marker
is the bucket's majority call, filled when at least half of the bucket's scored calls
were right. The bottom pane shows each model's P(up) and its rolling hit rate over
the last ``HIT_WINDOW`` scored calls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dashboard.figures import AMBER, CYAN, FONT, GREEN, GREY, RED
from flameback_app.storage.db import MODEL_COLUMNS, RULE_COLUMNS

Bar = dict[str, Any]
HIT_WINDOW = 60
HEIGHT = 780
# (y axis, bottom, top, title) from top to bottom; the axis names are Plotly's y, y2, ...
PANES: tuple[tuple[str, float, float, str], ...] = (
    ("y", 0.50, 1.00, "PRICE"),
    ("y2", 0.43, 0.49, "VOL"),
    ("y3", 0.30, 0.41, "RSI 14"),
    ("y4", 0.16, 0.28, "MACD"),
    ("y5", 0.00, 0.14, "P(UP) · HIT"),
)
OVERLAYS: tuple[tuple[str, str, str], ...] = (  # distinct hues: SMA 10 and SMA 20 must not look alike
    ("sma_10", "SMA 10", "#ff4fd8"),
    ("sma_20", "SMA 20", AMBER),
    ("ema_12", "EMA 12", "#9dff3b"),
    ("ema_26", "EMA 26", "#a68bff"),
)
MODEL_COLOURS = dict(zip(MODEL_COLUMNS, ("#27c3ff", "#ffb000", "#ff4fd8", "#9dff3b"), strict=True))
SIGNALS = (*MODEL_COLUMNS, *RULE_COLUMNS)


def stamp(value: Any) -> str:
    """A tick time as short text Plotly's date axis reads (the payload repeats it once per trace)."""
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    text = text.removesuffix(".000000").removesuffix(".000")
    return text.removesuffix(" 00:00:00")


def short(value: float | None) -> float | None:
    """Six significant digits: what a chart can show, and a third of the JSON of a full float."""
    return None if value is None else float(f"{value:.6g}")


def series(bars: Sequence[Bar], key: str) -> list[float | None]:
    return [short(bar[key]) for bar in bars]


def rolling_hit_rate(bars: Sequence[Bar], signal: str, calls: int = HIT_WINDOW) -> list[float | None]:
    """Per bar: right / scored over the fewest trailing bars holding at least ``calls`` scored calls."""
    out: list[float | None] = []
    window: deque[tuple[int, int]] = deque()
    right = scored = 0
    for bar in bars:
        r, s = bar[f"{signal}__right"], bar[f"{signal}__scored"]
        window.append((r, s))
        right, scored = right + r, scored + s
        while len(window) > 1 and scored - window[0][1] >= calls:
            r0, s0 = window.popleft()
            right, scored = right - r0, scored - s0
        out.append(round(right / scored, 4) if scored else None)
    return out


def bar_call(bar: Bar, signal: str) -> tuple[str | None, bool]:
    """(call, right?) of a bar: the tick's own call, or on a bucket its majority call and majority outcome."""
    ups, downs = bar[f"{signal}__up"], bar[f"{signal}__down"]
    call = "UP" if ups > downs else "DOWN" if downs > ups else None
    scored, right = bar[f"{signal}__scored"], bar[f"{signal}__right"]
    return call, scored > 0 and 2 * right >= scored


def marker_traces(bars: Sequence[Bar], x: list[str], signal: str, bucketed: bool) -> list[dict[str, Any]]:
    """Four traces on the price: UP right / UP not right / DOWN right / DOWN not right (filled = right)."""
    groups: dict[tuple[str, bool], tuple[list[str], list[float | None]]] = {
        key: ([], []) for key in (("UP", True), ("UP", False), ("DOWN", True), ("DOWN", False))
    }
    for stamp_, bar in zip(x, bars, strict=True):
        call, right = bar_call(bar, signal)
        if call is not None:
            level = bar["low"] if call == "UP" and bucketed else bar["high"] if bucketed else bar["close"]
            groups[(call, right)][0].append(stamp_)
            groups[(call, right)][1].append(short(level))
    traces = []
    for (call, right), (xs, ys) in groups.items():
        shape = ("triangle-up" if call == "UP" else "triangle-down") + ("" if right else "-open")
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": xs,
                "y": ys,
                "yaxis": "y",
                "name": f"{signal} {call} {'right' if right else 'wrong / open'}",
                "legendgroup": "calls",
                "showlegend": False,
                "meta": {"call": call, "right": right},
                "marker": {"symbol": shape, "size": 9, "color": GREEN if call == "UP" else RED, "line": {"width": 1.5}},
            }
        )
    return traces


def price_traces(bars: Sequence[Bar], x: list[str], bucketed: bool) -> list[dict[str, Any]]:
    """Bollinger band, the four averages, and the price (a line tick by tick, candles when bucketed)."""
    band = {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "yaxis": "y",
        "hoverinfo": "skip",
        "line": {"color": GREY, "width": 1, "dash": "dot"},
    }
    traces = [
        {**band, "y": series(bars, "bb_upper"), "name": "BB upper", "legendgroup": "bb", "showlegend": False},
        {
            **band,
            "y": series(bars, "bb_lower"),
            "name": "BB (20, 2)",
            "legendgroup": "bb",
            "fill": "tonexty",
            "fillcolor": "rgba(138,138,138,0.10)",
        },
    ]
    traces += [
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": series(bars, key),
            "yaxis": "y",
            "name": name,
            "line": {"color": colour, "width": 1.2},
        }
        for key, name, colour in OVERLAYS
    ]
    if bucketed:
        traces.append(
            {
                "type": "candlestick",
                "x": x,
                "open": series(bars, "open"),
                "high": series(bars, "high"),
                "low": series(bars, "low"),
                "close": series(bars, "close"),
                "yaxis": "y",
                "name": "OHLC",
                "increasing": {"line": {"color": GREEN}},
                "decreasing": {"line": {"color": RED}},
            }
        )
    else:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": series(bars, "close"),
                "yaxis": "y",
                "name": "Price",
                "line": {"color": CYAN, "width": 2},
            }
        )
    return traces


def lower_traces(bars: Sequence[Bar], x: list[str]) -> list[dict[str, Any]]:
    """Volume, RSI, MACD (line, signal, histogram), each model's P(up) and rolling hit rate."""
    hist = series(bars, "macd_histogram")
    traces: list[dict[str, Any]] = []
    if any(bar["volume"] is not None for bar in bars):
        traces.append(
            {
                "type": "bar",
                "x": x,
                "y": series(bars, "volume"),
                "yaxis": "y2",
                "name": "Volume",
                "showlegend": False,
                "marker": {"color": "rgba(0, 200, 255, 0.45)"},
            }
        )
    traces += [
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": series(bars, "rsi_14"),
            "yaxis": "y3",
            "name": "RSI 14",
            "showlegend": False,
            "line": {"color": AMBER, "width": 1.2},
        },
        {
            "type": "bar",
            "x": x,
            "y": hist,
            "yaxis": "y4",
            "name": "MACD hist",
            "showlegend": False,
            "marker": {"color": [GREEN if v is not None and v >= 0 else RED for v in hist]},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": series(bars, "macd_line"),
            "yaxis": "y4",
            "name": "MACD",
            "showlegend": False,
            "line": {"color": CYAN, "width": 1.2},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": series(bars, "macd_signal"),
            "yaxis": "y4",
            "name": "MACD signal",
            "showlegend": False,
            "line": {"color": AMBER, "width": 1.2},
        },
    ]
    for model, colour in MODEL_COLOURS.items():
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": series(bars, f"{model}_p_up"),
                "yaxis": "y5",
                "name": f"{model} P(up)",
                "legendgroup": model,
                "showlegend": False,
                "line": {"color": colour, "width": 1},
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": rolling_hit_rate(bars, model),
                "yaxis": "y5",
                "name": f"{model} hit {HIT_WINDOW}",
                "legendgroup": model,
                "showlegend": False,
                "line": {"color": colour, "width": 2, "dash": "dot"},
            }
        )
    return traces


def linked_layout(title: str, revision: str) -> dict[str, Any]:
    """One x axis (spikes across every pane), five y axes stacked; guides at RSI 30/70 and P(up) 0.5."""
    axis = {"gridcolor": "#1a1a1a", "zerolinecolor": "#333", "linecolor": "#333", "tickfont": {"size": 10}}
    layout: dict[str, Any] = {
        "paper_bgcolor": "#000",
        "plot_bgcolor": "#050505",
        "height": HEIGHT,
        "uirevision": revision,
        "margin": {"l": 64, "r": 12, "t": 58, "b": 26},
        "hovermode": "x unified",
        "dragmode": "zoom",
        "title": {
            "text": title,
            "font": {"color": AMBER, "size": 12, "family": FONT},
            "x": 0.01,
            "y": 0.99,
            "yanchor": "top",
        },
        "font": {"family": FONT, "color": "#c8c8c8", "size": 11},
        "legend": {
            "orientation": "h",
            "y": 1.005,
            "yanchor": "bottom",
            "x": 0.0,
            "xanchor": "left",
            "font": {"size": 10},
            "bgcolor": "rgba(0,0,0,0)",
        },
        "xaxis": {
            **axis,
            "type": "date",
            "anchor": "y5",
            "rangeslider": {"visible": False},
            "showspikes": True,
            "spikemode": "across",
            "spikesnap": "cursor",
            "spikethickness": 1,
            "spikecolor": GREY,
            "spikedash": "solid",
        },
        "shapes": [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": yref,
                "y0": level,
                "y1": level,
                "line": {"color": colour, "width": 1, "dash": "dash"},
            }
            for yref, level, colour in (("y3", 70, GREEN), ("y3", 30, RED), ("y5", 0.5, GREY))
        ],
    }
    for name, bottom, top, label in PANES:
        key = "yaxis" if name == "y" else f"yaxis{name[1:]}"
        layout[key] = {
            **axis,
            "domain": [bottom, top],
            "title": {"text": label, "font": {"size": 10}},
            "fixedrange": name != "y",
        }
    key = " ".join(f"<span style='color:{colour}'>{model}</span>" for model, colour in MODEL_COLOURS.items())
    layout["annotations"] = [
        {
            "xref": "paper",
            "yref": "paper",
            "x": 0.0,
            "y": PANES[-1][2],
            "yanchor": "bottom",
            "xanchor": "left",
            "showarrow": False,
            "font": {"size": 10},
            "text": f"{key} · solid P(up) · dotted hit rate of the last {HIT_WINDOW} calls",
        }
    ]
    layout["yaxis3"].update(range=[0, 100], tickvals=[30, 50, 70])
    layout["yaxis5"].update(range=[0.3, 0.7], tickformat=".0%", nticks=4)
    layout["yaxis2"].update(rangemode="tozero", nticks=2)
    return layout


def linked_figure(
    bars: Sequence[Bar], width_s: float | None, symbol: str, signal: str, range_name: str
) -> dict[str, Any]:
    """The whole figure for one symbol, range and marked signal."""
    x = [stamp(bar["timestamp"]) for bar in bars]
    bucketed = width_s is not None
    data = [*price_traces(bars, x, bucketed), *marker_traces(bars, x, signal, bucketed), *lower_traces(bars, x)]
    drawn = f"{len(bars):,} BARS OF {bar_size(width_s)}" if bucketed else f"{len(bars):,} TICKS"
    title = f"{symbol} · {range_name} · {drawn} · ▲▼ {signal} (filled = right)"
    return {"data": data, "layout": linked_layout(title, f"{symbol}|{range_name}")}


def bar_size(width_s: float | None) -> str:
    """A bucket width as a trader reads it (e.g. '2.5 h')."""
    if width_s is None:
        return "1 TICK"
    for unit, seconds in (("d", 86400), ("h", 3600), ("min", 60)):
        if width_s >= seconds:
            return f"{width_s / seconds:.3g} {unit}"
    return f"{width_s:.3g} s"
