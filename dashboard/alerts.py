"""The terminal's alerts: a toast for each new alert the worker fired, the alert log, and a form to add a rule.

The worker fires alerts (:mod:`flameback_app.worker.alerts`) and stores them in ``alerts``;
this module only reads them, on the page's refresh timer: the newest ones for the log,
and those above the last id the page has seen for the toast (the page's first read
only remembers that id, so opening the terminal does not toast old alerts). The one
write the terminal makes is here: a rule added in the form becomes a row of
``alert_rules``, which the worker picks up within ``FLAMEBACK_ALERT_RULES_REFRESH_S``.
"""

from __future__ import annotations

import functools
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from pydantic import ValidationError
from sqlalchemy import Engine, insert, select

from dashboard import queries
from dashboard.callbacks import ReadProblem, Source, read
from flameback_app.core.records import utc_now
from flameback_app.storage import db
from flameback_app.worker.alert_rules import KINDS, AlertRule, rule_spec_json

PANE = "alerts-pane"
LOG = "alerts-log"
TOAST = "alerts-toast"
SEEN = "alerts-seen"
KIND = "alert-kind"
SYMBOL = "alert-symbol"
UPPER = "alert-upper"
LOWER = "alert-lower"
HIT_RATE = "alert-hit-rate"
ADD = "alert-add"
FORM_STATUS = "alert-form-status"
LOG_SIZE = 50
KIND_LABELS = {
    "consensus_flip": "consensus flips",
    "rsi_cross": "RSI crosses upper/lower",
    "model_up": "a model above the hit rate calls UP",
}


def components() -> list[Any]:
    """What the page holds for alerts: the toast (fixed, top right), the pane, the last id seen."""
    return [html.Div(id=TOAST, className="alert-toast"), alerts_pane(), dcc.Store(id=SEEN, data=None)]


def _number(label: str, component_id: str, value: float, **limits: float) -> html.Label:
    return html.Label([label, dcc.Input(id=component_id, type="number", value=value, className="alert-num", **limits)])


def alerts_pane() -> html.Details:
    """The alert log under an add-rule form (a rule's other settings: the rule file, README "Alerts")."""
    kinds = [{"label": KIND_LABELS[k], "value": k} for k in KINDS]
    form = html.Div(
        [
            html.Span("ADD RULE", className="picker-label"),
            dcc.Dropdown(id=KIND, options=kinds, value="rsi_cross", clearable=False, className="alert-kind"),
            dcc.Input(id=SYMBOL, placeholder="symbol (* = all)", value="*", debounce=True, className="alert-input"),
            _number("upper ", UPPER, 70, min=1, max=99),
            _number("lower ", LOWER, 30, min=1, max=99),
            _number("hit rate > ", HIT_RATE, 0.55, min=0, max=1, step=0.01),
            html.Button("ADD", id=ADD, n_clicks=0, className="alert-add"),
            html.Span(id=FORM_STATUS, className="muted"),
        ],
        className="alert-form",
    )
    return html.Details(
        [html.Summary("ALERTS", className="panel-title"), form, html.Div(id=LOG)],
        id=PANE,
        open=True,
        className="panel alerts-pane",
    )


def recent_alerts(engine: Engine, limit: int = LOG_SIZE) -> list[dict[str, Any]]:
    """The newest alerts, newest first (by id: the order the worker stored them)."""
    table = db.alerts
    stmt = (
        select(table.c.id, table.c.fired_at, table.c.timestamp, table.c.symbol, table.c.rule_name, table.c.message)
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]


def alerts_update(source: Source, seen: int | None) -> tuple[Any, Any, str, int | None]:
    """(log, toast, toast class, last id seen): the toast shows alerts newer than ``seen``."""
    try:
        rows = read(source, recent_alerts)
    except ReadProblem as problem:
        return html.Div(str(problem).split(" — ")[0], className="muted"), dash.no_update, "alert-toast", seen
    newest = rows[0]["id"] if rows else 0
    fresh = [] if seen is None else [r for r in rows if r["id"] > seen]
    return alert_log(rows), toast(fresh), "alert-toast show" if fresh else "alert-toast", newest


def alert_log(rows: list[dict[str, Any]]) -> Any:
    if not rows:
        return html.Div("no alerts yet — add a rule below or in FLAMEBACK_ALERT_RULES", className="muted")
    head = html.Tr([html.Th(h) for h in ("FIRED (UTC)", "TICK", "SYMBOL", "ALERT", "RULE")])
    body = [
        html.Tr(
            [
                html.Td(f"{r['fired_at']:%H:%M:%S}"),
                html.Td(f"{r['timestamp']:%Y-%m-%d %H:%M}"),
                html.Td(r["symbol"]),
                html.Td(r["message"].split(": ", 1)[-1]),
                html.Td(r["rule_name"]),
            ],
            className="alert-row",
        )
        for r in rows
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="alert-log")


def toast(fresh: list[dict[str, Any]]) -> Any:
    """The newest fresh alert, and how many more came with it (keyed by id, so each one animates anew)."""
    if not fresh:
        return None
    more = f" (+{len(fresh) - 1} more in the log)" if len(fresh) > 1 else ""
    return html.Div([html.B("ALERT "), fresh[0]["message"], more], key=str(fresh[0]["id"]))


def add_rule(
    source: Source, kind: str, symbol: str | None, upper: float | None, lower: float | None, hit_rate: float | None
) -> str:
    """Validate the form as a rule and store it; the answer is one line for the page."""
    fields = {"kind": kind, "symbol": (symbol or "*").strip() or "*"}
    if kind == "rsi_cross":
        fields.update({k: v for k, v in (("upper", upper), ("lower", lower)) if v is not None})
    if kind == "model_up" and hit_rate is not None:
        fields["min_hit_rate"] = hit_rate
    try:
        rule = AlertRule.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(map(str, first["loc"]))
        return f"not added: {where + ' ' if where else ''}{first['msg'].removeprefix('Value error, ')}"
    try:
        queries.check_exists(source.url)
        rule_id = store_rule(_writer(source.url), rule)
    except queries.DatabaseMissing:
        return "not added: no database yet (start the worker)"
    except Exception as exc:  # noqa: BLE001 - any database failure is a line on the page, not a callback error
        return f"not added: {' '.join(str(getattr(exc, 'orig', exc)).split())[:160]}"
    return f"rule #{rule_id} added: {rule.title()} (the worker picks it up within seconds)"


def store_rule(engine: Engine, rule: AlertRule) -> int:
    """One ``alert_rules`` row; its id."""
    row = {"spec_json": rule_spec_json(rule), "enabled": True, "created_at": utc_now()}
    with engine.begin() as conn:
        return int(conn.execute(insert(db.alert_rules).values(row)).inserted_primary_key[0])


@functools.cache
def _writer(url: str) -> Engine:
    """The terminal's only writing engine, for ``alert_rules`` (the readers stay read-only)."""
    return db.make_engine(url)


def register_alert_callbacks(app: dash.Dash, source: Source, refresh_interval_id: str) -> None:
    @app.callback(
        Output(LOG, "children"),
        Output(TOAST, "children"),
        Output(TOAST, "className"),
        Output(SEEN, "data"),
        Input(refresh_interval_id, "n_intervals"),
        State(SEEN, "data"),
    )
    def refresh_alerts(_n: int, seen: int | None) -> tuple[Any, Any, str, int | None]:
        return alerts_update(source, seen)

    @app.callback(
        Output(FORM_STATUS, "children"),
        Input(ADD, "n_clicks"),
        State(KIND, "value"),
        State(SYMBOL, "value"),
        State(UPPER, "value"),
        State(LOWER, "value"),
        State(HIT_RATE, "value"),
        prevent_initial_call=True,
    )
    def add_alert_rule(
        _clicks: int, kind: str, symbol: str | None, upper: float | None, lower: float | None, hit_rate: float | None
    ) -> str:
        return add_rule(source, kind, symbol, upper, lower, hit_rate)
