"""The model page (``/?view=models``): how the loaded model version was judged in training, and how it does live.

Reads three things, each bounded: ``model_registry`` (every version a worker has
loaded, newest first, ≤ :data:`MAX_VERSIONS`), the ``report.json`` that ``train`` wrote
into the loaded version's directory (the path the worker registered; the terminal
must see that directory — on another machine the page says so and still shows the
rest), and the newest :data:`LIVE_ROWS` rows of ``predictions`` for the live hit rates.

The figure builders are pure (report or rows in, Plotly figure dicts out) so tests
check the values they draw without a browser. The walk-forward figures follow the
report's own definitions (``models/train.py``): accuracy with its Wilson 95 %
interval per signal, the always-up and last-move baselines on the same rows, the
strategy check's equity, reliability bins, and permutation importance on the last
fold's held-out rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import dash
import numpy as np
import pandas as pd
from dash import Input, Output, dcc, html
from sqlalchemy import Engine, select

from dashboard import ids, links
from dashboard.callbacks import ReadProblem, Source, read
from dashboard.figures import AMBER, CYAN, FONT, GREEN, GREY, RED, YELLOW
from flameback_app.storage.db import MODEL_COLUMNS, RULE_COLUMNS, model_registry, predictions

LIVE_ROWS = 20_000  # newest prediction rows read for the live hit rates (one index range scan)
LIVE_BUCKETS = 30  # points on the live hit-rate lines (equal numbers of scored calls each)
MAX_VERSIONS = 500
REPORT_MAX_BYTES = 20_000_000  # a report is ~0.5 MB; anything far larger is not one train wrote
REFRESH_S = 30.0  # the page changes when a worker loads a version or calls accumulate: a slow timer suffices
MODEL_COLOURS = dict(zip(MODEL_COLUMNS, (CYAN, AMBER, GREEN, "#d67bff"), strict=True))
RULE_COLOUR = "#9a9a9a"
BASELINE_NAMES = {"always_up": "always up", "same_as_last_move": "last move"}

CONTENT = "model-page-content"
INTERVAL = "model-page-interval"
PANELS = {
    "accuracy": "model-accuracy",
    "folds": "model-folds",
    "equity": "model-equity",
    "calibration": "model-calibration",
    "importance": "model-importance",
    "live": "model-live",
    "versions": "model-versions",
}


# ---------------------------------------------------------------- reads


def registered_versions(engine: Engine) -> list[dict[str, Any]]:
    """Every version in ``model_registry``, newest created first (metrics parsed; unreadable metrics → {})."""
    r = model_registry.c
    stmt = (
        select(r.version, r.created, r.path, r.metrics_json, r.loaded_at).order_by(r.created.desc()).limit(MAX_VERSIONS)
    )
    with engine.connect() as conn:
        rows = [row._asdict() for row in conn.execute(stmt)]
    for row in rows:
        row["metrics"] = _json_or_empty(row.pop("metrics_json"))
    return rows


def _json_or_empty(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def loaded_version(versions: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The version a worker loaded last (a rollback to an older version makes that one current)."""
    loaded = [v for v in versions if v.get("loaded_at") is not None]
    return max(loaded, key=lambda v: v["loaded_at"]) if loaded else (versions[0] if versions else None)


def read_report(version: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(the version's walk-forward report, "") or (None, why it could not be read)."""
    file = Path(version["path"]) / "report.json"
    try:
        if file.stat().st_size > REPORT_MAX_BYTES:
            return None, f"{file} is larger than {REPORT_MAX_BYTES:,} bytes; not read"
        report = json.loads(file.read_text())
    except FileNotFoundError:
        return None, (
            f"no report.json at {file}: the terminal reads the report from the directory the worker "
            "registered; run it where that directory is visible (same FLAMEBACK_MODELS_DIR)"
        )
    except (OSError, ValueError) as exc:
        return None, f"{file}: unreadable report ({exc})"
    return (report, "") if isinstance(report, dict) and "pooled" in report else (None, f"{file}: not a training report")


def recent_calls(engine: Engine, limit: int = LIVE_ROWS) -> pd.DataFrame:
    """The newest ``limit`` prediction rows (by id: the primary key's index, never a full scan), oldest first."""
    p = predictions.c
    columns = [p.id, p.symbol, p.timestamp, p.current_price, *(p[name] for name in MODEL_COLUMNS)]
    stmt = select(*columns).order_by(p.id.desc()).limit(limit)
    with engine.connect() as conn:
        frame = pd.DataFrame([row._asdict() for row in conn.execute(stmt)], columns=[c.name for c in columns])
    return frame.iloc[::-1].reset_index(drop=True)


# ---------------------------------------------------------------- live hit rates


def live_hit_rates(calls: pd.DataFrame, buckets: int = LIVE_BUCKETS) -> dict[str, Any]:
    """Each model's hit rate over time, scored as the live scoreboard scores: UP right if the symbol's next price is higher.

    Rows with a next tick and at least one UP/DOWN call are cut, in time order, into
    ``buckets`` runs of equal length; each point is a run's hit rate per model (None
    where the model made no call in it) at the run's last timestamp, beside the
    always-up rate on the same rows.
    """
    if calls.empty:
        return {"timestamp": [], "rates": {m: [] for m in MODEL_COLUMNS}, "always_up": [], "n": []}
    data = calls.sort_values(["symbol", "timestamp", "id"]).copy()
    data["went_up"] = data.groupby("symbol", sort=False)["current_price"].shift(-1) > data["current_price"]
    data = data[data.groupby("symbol", sort=False)["id"].shift(-1).notna()]
    made = data[list(MODEL_COLUMNS)].isin(("UP", "DOWN"))
    data = data[made.any(axis=1)].sort_values(["timestamp", "id"])
    runs = (
        [run for run in np.array_split(np.arange(len(data)), min(buckets, len(data))) if len(run)] if len(data) else []
    )
    return {
        "timestamp": [str(data["timestamp"].iloc[run[-1]]) for run in runs],
        "rates": {m: [_hit_rate(data[m].iloc[run], data["went_up"].iloc[run]) for run in runs] for m in MODEL_COLUMNS},
        "always_up": [float(data["went_up"].iloc[run].mean()) for run in runs],
        "n": [len(run) for run in runs],
    }


def _hit_rate(calls: pd.Series, went_up: pd.Series) -> float | None:
    scored = calls.isin(("UP", "DOWN"))
    if not scored.any():
        return None
    return float(((calls[scored] == "UP") == went_up[scored]).mean())


# ---------------------------------------------------------------- figures (pure)


def _layout(title: str, height: int, **extra: Any) -> dict[str, Any]:
    axis = {"gridcolor": "#1a1a1a", "zerolinecolor": "#333", "linecolor": "#333", "tickfont": {"size": 10}}
    return {
        "paper_bgcolor": "#000",
        "plot_bgcolor": "#050505",
        "height": height,
        "uirevision": title,
        "margin": {"l": 56, "r": 12, "t": 30, "b": 36},
        "title": {"text": title, "font": {"color": AMBER, "size": 12, "family": FONT}, "x": 0.01, "y": 0.97},
        "font": {"family": FONT, "color": "#c8c8c8", "size": 11},
        "legend": {"orientation": "h", "y": -0.12, "x": 0.01, "font": {"size": 10}},
        "modebar": {"orientation": "v", "bgcolor": "rgba(0,0,0,0)"},
        "xaxis": dict(axis),
        "yaxis": dict(axis),
        **extra,
    }


def _note_figure(title: str, message: str, height: int = 260) -> dict[str, Any]:
    """An empty figure saying why there is nothing to draw (the panel stays where the user looks for it)."""
    layout = _layout(
        title,
        height,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"color": YELLOW, "size": 12},
            }
        ],
    )
    return {"data": [], "layout": layout}


def _colour(name: str) -> str:
    return MODEL_COLOURS.get(name, RULE_COLOUR)


def _ci_error(metrics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Plotly asymmetric error bars from each entry's ``accuracy`` and ``accuracy_ci95``."""
    up = [
        None if m["accuracy"] is None or m["accuracy_ci95"][1] is None else m["accuracy_ci95"][1] - m["accuracy"]
        for m in metrics
    ]
    down = [
        None if m["accuracy"] is None or m["accuracy_ci95"][0] is None else m["accuracy"] - m["accuracy_ci95"][0]
        for m in metrics
    ]
    return {"type": "data", "symmetric": False, "array": up, "arrayminus": down, "color": "#e0e0e0", "thickness": 1}


def accuracy_figure(report: Mapping[str, Any]) -> dict[str, Any]:
    """Pooled walk-forward accuracy (95 % interval) of every model and rule, beside the two naive baselines."""
    pooled = report["pooled"]
    names = [n for n in (*MODEL_COLUMNS, *RULE_COLUMNS) if n in pooled["signals"]]
    signals = [pooled["signals"][n] for n in names]
    baselines = [pooled["baselines"][k] for k in BASELINE_NAMES]
    always_up = pooled["baselines"]["always_up"]["accuracy"]
    data = [
        {
            "type": "bar",
            "name": "models and rules",
            "x": names,
            "y": [m["accuracy"] for m in signals],
            "marker": {"color": [_colour(n) for n in names]},
            "error_y": _ci_error(signals),
        },
        {
            "type": "bar",
            "name": "baselines",
            "x": list(BASELINE_NAMES.values()),
            "y": [m["accuracy"] for m in baselines],
            "marker": {"color": "#444"},
            "error_y": _ci_error(baselines),
        },
    ]
    shapes = (
        []
        if always_up is None
        else [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": always_up,
                "y1": always_up,
                "line": {"color": RED, "width": 1, "dash": "dash"},
            }
        ]
    )
    layout = _layout(
        f"WALK-FORWARD ACCURACY · 95 % INTERVAL · {pooled['test']['n']:,} TEST ROWS · dashed: always up",
        300,
        shapes=shapes,
        showlegend=False,
    )
    layout["yaxis"] = {
        **layout["yaxis"],
        "range": _padded([m["accuracy"] for m in (*signals, *baselines)]),
        "tickformat": ".0%",
    }
    return {"data": data, "layout": layout}


def _padded(values: Sequence[float | None], pad: float = 0.05) -> list[float]:
    """A y range around accuracies near 0.5 (from 0 the bars would all look alike), within [0, 1]."""
    known = [v for v in values if v is not None]
    low, high = (min(known), max(known)) if known else (0.45, 0.55)
    return [max(low - pad, 0.0), min(high + pad, 1.0)]


def folds_figure(report: Mapping[str, Any]) -> dict[str, Any]:
    """Accuracy per walk-forward fold (test blocks in time order): models as bars, rules on request, always-up as a line."""
    folds = report.get("folds") or []
    if not folds:
        return _note_figure("ACCURACY PER FOLD", "the report has no folds")
    x = [f"fold {f['fold']}" for f in folds]
    data = [
        {
            "type": "bar",
            "name": n,
            "x": x,
            "y": [f["signals"][n]["accuracy"] for f in folds],
            "marker": {"color": _colour(n)},
            **({} if n in MODEL_COLUMNS else {"visible": "legendonly"}),
        }
        for n in (*MODEL_COLUMNS, *RULE_COLUMNS)
        if n in folds[0]["signals"]
    ]
    data.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "always up",
            "x": x,
            "y": [f["baselines"]["always_up"]["accuracy"] for f in folds],
            "line": {"color": RED, "dash": "dash"},
        }
    )
    layout = _layout("ACCURACY PER FOLD · test blocks in time order", 300, barmode="group")
    layout["yaxis"] = {**layout["yaxis"], "tickformat": ".0%", "range": _padded([y for t in data for y in t["y"]])}
    return {"data": data, "layout": layout}


def equity_figure(report: Mapping[str, Any]) -> dict[str, Any]:
    """The strategy check's equity (growth of 1, after costs) per signal against buy-and-hold."""
    pooled = report["pooled"]
    curves = pooled.get("equity_curves")
    title = f"STRATEGY CHECK · EQUITY AFTER {pooled.get('cost_bp', 0):g} bp COSTS · vs BUY-AND-HOLD"
    if not curves or not curves.get("timestamp"):
        return _note_figure(
            title, "this version's report has no equity curves (trained before they were kept): retrain"
        )

    def style(name: str) -> dict[str, Any]:
        if name == "buy_and_hold":
            return {"line": {"color": "#f0f0f0", "width": 2.5}, "name": "buy and hold"}
        return {
            "line": {"color": _colour(name), "width": 1.5},
            "name": name,
            **({} if name in MODEL_COLUMNS else {"visible": "legendonly"}),
        }

    data = [
        {"type": "scatter", "mode": "lines", "x": curves["timestamp"], "y": values, **style(name)}
        for name, values in curves["equity"].items()
    ]
    layout = _layout(title, 320)
    layout["xaxis"] = {**layout["xaxis"], "type": "date"}
    return {"data": data, "layout": layout}


def calibration_figure(report: Mapping[str, Any]) -> dict[str, Any]:
    """Reliability: each model's mean P(up) per bin against the share that went up (95 % interval); the diagonal is perfect."""
    reliability = report["pooled"].get("reliability") or {}
    if not reliability:
        return _note_figure("CALIBRATION", "this version's report has no reliability curves")
    points = [b["mean_p_up"] for curve in reliability.values() for b in curve]
    low, high = (min(points), max(points)) if points else (0.0, 1.0)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "perfectly calibrated",
            "x": [low, high],
            "y": [low, high],
            "line": {"color": GREY, "dash": "dot"},
        }
    ]
    for name, curve in reliability.items():
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": [b["mean_p_up"] for b in curve],
                "y": [b["up_rate"] for b in curve],
                "line": {"color": _colour(name)},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "thickness": 1,
                    "array": [b["up_rate_ci95"][1] - b["up_rate"] for b in curve],
                    "arrayminus": [b["up_rate"] - b["up_rate_ci95"][0] for b in curve],
                },
            }
        )
    method = (report["pooled"].get("calibration") or {}).get("method", "?")
    layout = _layout(f"CALIBRATION ({method}) · x: mean P(up) per bin · y: share that went up", 320)
    return {"data": data, "layout": layout}


def importance_figure(importance: Mapping[str, Any] | None) -> dict[str, Any]:
    """Permutation importance per feature and model (drop in held-out AUC when the feature is shuffled), largest on top."""
    title = "FEATURE IMPORTANCE · drop in held-out AUC when shuffled"
    info = dict(importance or {})
    models = info.get("models") or {}
    if not any(models.values()):
        return _note_figure(title, "no feature importance in this version (trained before it was kept): retrain")
    features = list(next(scores for scores in models.values() if scores))
    order = sorted(features, key=lambda f: np.mean([scores[f]["mean"] for scores in models.values() if f in scores]))
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": name,
            "y": order,
            "x": [scores[f]["mean"] for f in order],
            "error_x": {"type": "data", "array": [scores[f]["std"] for f in order], "thickness": 1},
            "marker": {"color": _colour(name)},
        }
        for name, scores in models.items()
        if scores
    ]
    detail = f" · fold {info.get('fold')} test block, {info.get('rows', 0):,} rows"
    layout = _layout(title + detail, max(300, 22 * len(order) + 80), barmode="group")
    layout["margin"] = {**layout["margin"], "l": 130}
    return {"data": data, "layout": layout}


def live_figure(live: Mapping[str, Any], report: Mapping[str, Any] | None) -> dict[str, Any]:
    """Live hit rate over time per model (solid) beside its walk-forward accuracy (dotted), and always-up live."""
    title = "LIVE HIT RATE OVER TIME (solid) vs WALK-FORWARD ESTIMATE (dotted)"
    x = live["timestamp"]
    if not x:
        return _note_figure(title, "no scored live calls yet (each call is scored when its symbol's next tick arrives)")
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": f"{m} live",
            "x": x,
            "y": live["rates"][m],
            "line": {"color": _colour(m)},
        }
        for m in MODEL_COLUMNS
    ]
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": "always up live",
            "x": x,
            "y": live["always_up"],
            "line": {"color": RED, "dash": "dash", "width": 1},
        }
    )
    signals = (report or {}).get("pooled", {}).get("signals", {})
    for m in MODEL_COLUMNS:
        estimate = signals.get(m, {}).get("accuracy")
        if estimate is not None:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{m} walk-forward",
                    "x": [x[0], x[-1]],
                    "y": [estimate, estimate],
                    "line": {"color": _colour(m), "dash": "dot", "width": 1},
                }
            )
    layout = _layout(f"{title} · {sum(live['n']):,} scored ticks", 320)
    layout["xaxis"] = {**layout["xaxis"], "type": "date"}
    layout["yaxis"] = {**layout["yaxis"], "tickformat": ".0%"}
    return {"data": data, "layout": layout}


def versions_table(versions: Sequence[Mapping[str, Any]], loaded: Mapping[str, Any] | None) -> html.Table:
    """Every registered version, newest first: when created and last loaded, calibration, pooled accuracy per model."""
    head = html.Tr([html.Th(h) for h in ("VERSION", "CREATED", "LAST LOADED", "CALIBRATION", *MODEL_COLUMNS)])
    rows = []
    for v in versions:
        pooled = v["metrics"].get("walk_forward_pooled") or {}
        accuracy = [_percent((pooled.get(m) or {}).get("accuracy")) for m in MODEL_COLUMNS]
        mark = " ● loaded" if loaded is not None and v["version"] == loaded["version"] else ""
        rows.append(
            html.Tr(
                [
                    html.Td(v["version"] + mark),
                    html.Td(_when(v["created"])),
                    html.Td(_when(v["loaded_at"])),
                    html.Td(str(v["metrics"].get("calibration", "—"))),
                    *(html.Td(a) for a in accuracy),
                ],
                className="loaded-version" if mark else "",
            )
        )
    return html.Table([head, *rows], className="grid versions")


def _percent(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * 100:.1f}%"


def _when(value: datetime | str | None) -> str:
    return "—" if value is None else str(value).split(".")[0]


# ---------------------------------------------------------------- the page


def _panel(key: str, title: str, body: Any) -> html.Div:
    return html.Div([html.Div(title, className="panel-title"), body], id=PANELS[key], className="panel model-panel")


def _graph(figure: dict[str, Any]) -> dcc.Graph:
    return dcc.Graph(figure=figure, config={"displaylogo": False}, className="chart")


def page_content(source: Source) -> list[Any]:
    """Everything the page shows, read now; a database that cannot be read becomes one line saying why."""
    try:
        versions = read(source, registered_versions)
        live = live_hit_rates(read(source, recent_calls))
    except ReadProblem as problem:
        return [html.Div(str(problem), className="status error")]
    loaded = loaded_version(versions)
    if loaded is None:
        return [
            html.Div(
                "NO MODEL VERSION YET — a worker records each version it loads; until the first one, "
                "the signals say TRAINING.",
                className="notice",
            )
        ]
    report, problem = read_report(loaded)
    importance = loaded["metrics"].get("feature_importance") or (report or {}).get("feature_importance")
    header = html.Div(
        [
            html.Span("LOADED VERSION ", className="muted"),
            html.Span(loaded["version"], className="version"),
            html.Span(f" · trained {_span_text(report)}" if report else "", className="muted"),
        ],
        className="model-header",
    )
    training = (
        [
            _panel("accuracy", "WALK-FORWARD", _graph(accuracy_figure(report))),
            _panel("folds", "PER FOLD", _graph(folds_figure(report))),
            _panel("equity", "STRATEGY CHECK", _graph(equity_figure(report))),
            _panel("calibration", "CALIBRATION", _graph(calibration_figure(report))),
        ]
        if report
        else [html.Div(problem, className="notice")]
    )
    return [
        header,
        html.Div(
            [
                *training,
                _panel("importance", "FEATURE IMPORTANCE", _graph(importance_figure(importance))),
                _panel("live", "LIVE vs WALK-FORWARD", _graph(live_figure(live, report))),
            ],
            className="model-grid",
        ),
        _panel("versions", f"MODEL VERSIONS ({len(versions)})", versions_table(versions, loaded)),
    ]


def _span_text(report: Mapping[str, Any]) -> str:
    test = report["pooled"]["test"]
    return f"walk-forward test {str(test['start'])[:10]}..{str(test['end'])[:10]} · {report.get('elapsed_s', '?')} s"


def pane() -> html.Div:
    """The page's container (hidden until the route shows it) and its slow timer."""
    return html.Div(
        [html.Div(id=CONTENT), dcc.Interval(id=INTERVAL, interval=int(REFRESH_S * 1000), n_intervals=0)],
        id=ids.MODELS_PANE,
        style={"display": "none"},
    )


def link() -> dcc.Link:
    return dcc.Link("MODELS", href="/" + links.MODELS_SEARCH, id=ids.MODELS_LINK, className="overview-link")


def register_callbacks(app: dash.Dash, source: Source) -> None:
    """Fill the page when the URL asks for it, and on its slow timer while it shows; never read it otherwise."""

    @app.callback(Output(CONTENT, "children"), Input(ids.URL, "search"), Input(INTERVAL, "n_intervals"))
    def refresh_models(search: str | None, _n: int) -> Any:
        if links.view_in(search) != links.MODELS_VIEW:
            return dash.no_update
        return page_content(source)
