"""The terminal's drift panel: each model feature's PSI for the open symbol and for all symbols, flagged in red.

Reads the ``feature_drift`` table the worker's drift check replaces every
FLAMEBACK_DRIFT_EVERY_S (through :func:`dashboard.callbacks.read`, so a missing, older
or locked database is a line in the panel, not an error). Its own module and callback:
the layout adds :func:`panel`, the app calls :func:`register_callbacks`.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, html
from sqlalchemy import Engine, select

from dashboard import ids
from dashboard.callbacks import ReadProblem, Source, read
from dashboard.figures import GREEN, RED
from flameback_app.storage.db import ALL_SYMBOLS, feature_drift

PANEL = "drift-panel"
NO_CHECK = "no drift check yet — the worker measures it every FLAMEBACK_DRIFT_EVERY_S once a model with a training sample is loaded"


def panel() -> html.Div:
    return html.Div(
        [html.Div("FEATURE DRIFT · PSI vs TRAINING", className="panel-title"), html.Div(id=PANEL)], className="panel"
    )


def drift_rows(engine: Engine, symbol: str) -> list[dict[str, Any]]:
    """The stored PSI rows of ``symbol`` and of all symbols pooled (the table's primary key: a few dozen rows)."""
    stmt = select(feature_drift).where(feature_drift.c.symbol.in_([symbol, ALL_SYMBOLS]))
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]


def drift_update(source: Source, symbol: str | None) -> Any:
    """The panel's content for ``symbol``: a feature × (symbol, all) table, or one line saying why there is none."""
    if symbol is None:
        return dash.no_update
    try:
        rows = read(source, drift_rows, symbol)
    except ReadProblem as problem:
        return html.Div(str(problem).split(" — ")[0], className="muted")
    if not rows:
        return html.Div(NO_CHECK, className="muted")
    return drift_table(rows, symbol)


def drift_table(rows: list[dict[str, Any]], symbol: str) -> html.Div:
    by_key = {(r["symbol"], r["feature"]): r for r in rows}
    features = sorted({r["feature"] for r in rows}, key=lambda f: -max(r["psi"] for r in rows if r["feature"] == f))
    head = html.Tr([html.Th("FEATURE"), html.Th(symbol), html.Th("ALL SYM")])
    body = [
        html.Tr([html.Td(f), _psi_cell(by_key.get((symbol, f))), _psi_cell(by_key.get((ALL_SYMBOLS, f)))])
        for f in features
    ]
    first = rows[0]
    flagged = sum(1 for r in rows if r["flagged"])
    own = next((r for r in rows if r["symbol"] == symbol), None)
    against = (
        ""
        if own is None
        else " · "
        + symbol
        + (" vs its own training rows" if own["reference"] == "symbol" else " vs all training rows (few of its own)")
    )
    note = (
        f"models {first['model_version']} · {first['sample_rows']:,} training rows{against} · newest "
        f"{max(r['live_rows'] for r in rows):,} live rows · flagged above {first['threshold']:g}: {flagged} · "
        f"{str(first['computed_at']).split('.')[0]}"
    )
    return html.Div([html.Table([head, *body], className="grid"), html.Div(note, className="footnote")])


def _psi_cell(row: dict[str, Any] | None) -> html.Td:
    if row is None:
        return html.Td("—", className="muted")  # too few live rows for this symbol yet
    return html.Td(f"{row['psi']:.3f}", style={"color": RED if row["flagged"] else GREEN})


def register_callbacks(app: dash.Dash, source: Source) -> None:
    @app.callback(Output(PANEL, "children"), Input(ids.TICK, "n_intervals"), Input(ids.SYMBOL, "value"))
    def refresh_drift(_n: int, symbol: str | None) -> Any:
        return drift_update(source, symbol)
