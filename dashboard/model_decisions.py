"""The terminal's MODEL DECISIONS panel: which version is live and why, newest decision first.

Reads ``model_decisions`` (the worker and the ``models`` command write it): every
first promotion, won or lost challenge, manual promotion and rollback, with both
versions' scores on the challenge block and the paired 95 % interval of their
difference. Its own module, wired by one line in the layout and one in the app.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, html
from sqlalchemy import Engine, select

from dashboard import ids
from dashboard.callbacks import ReadProblem, Source, read
from flameback_app.storage.db import model_decisions

PANEL = "model-decisions-panel"
SHOWN = 6
ACTION_COLOR = {
    "promoted": "var(--green)",
    "first": "var(--green)",
    "manual": "var(--yellow)",
    "rollback": "var(--yellow)",
    "rejected": "var(--red)",
}  # the terminal's palette (terminal.css)


def panel() -> html.Div:
    return html.Div([html.Div("MODEL DECISIONS", className="panel-title"), html.Div(id=PANEL)], className="panel")


def recent(engine: Engine, limit: int = SHOWN) -> list[dict[str, Any]]:
    stmt = select(model_decisions).order_by(model_decisions.c.decided_at.desc(), model_decisions.c.id.desc())
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt.limit(limit))]


def decisions_table(rows: list[dict[str, Any]]) -> html.Div:
    """One line per decision (live version first), the interval where there was a challenge, the reason on hover."""
    if not rows:
        return html.Div(
            "no decisions yet: the first trained version is promoted when a worker loads it", className="footnote"
        )
    live = next((r["version"] for r in rows if r["action"] != "rejected"), None)
    head = html.Tr([html.Th(h) for h in ("WHEN", "ACTION", "VERSION", "VS CHAMPION")])
    body = [
        html.Tr(
            [
                html.Td(f"{r['decided_at']:%m-%d %H:%M}"),
                html.Td(r["action"].upper(), style={"color": ACTION_COLOR.get(r["action"], "inherit")}),
                html.Td(_short(r["version"])),
                html.Td(_versus(r)),
            ],
            title=r["reason"],
        )
        for r in rows
    ]
    return html.Div(
        [
            html.Table([head, *body], className="grid"),
            html.Div(f"live: {_short(live) if live else '—'} (newest decision that promoted)", className="footnote"),
        ]
    )


def _short(version: str) -> str:
    """``20261203T114500Z-1a2b3c4d`` → ``1203 1145 1a2b``: enough to tell versions apart in a narrow panel."""
    stamp, _, digest = version.partition("-")
    return f"{stamp[4:8]} {stamp[9:13]} {digest[:4]}" if len(stamp) >= 13 else version


def _versus(row: dict[str, Any]) -> str:
    if row.get("ci_low") is None:
        return "—"
    return (
        f"{row['metric']} {row['challenger_score']:.3f} vs {row['champion_score']:.3f} "
        f"Δ CI [{row['ci_low']:+.3f},{row['ci_high']:+.3f}]"
    )


def register(app: dash.Dash, source: Source) -> None:
    @app.callback(Output(PANEL, "children"), Input(ids.TICK, "n_intervals"))
    def refresh_decisions(_n: int) -> Any:
        try:
            return decisions_table(read(source, recent))
        except ReadProblem as problem:
            return html.Div(str(problem), className="footnote")
