"""The user's own models (FLAMEBACK_USER_MODELS) in the terminal, beside the built-in four.

Their calls live in the long ``model_signals`` table (one row per tick and model), not
in ``predictions`` columns; this module reads the calls of one tick and lists, in one
place, which models the symbol view shows: the four, then every user model that made
a call on that tick or has a scoreboard row. The market overview gets a HIT60 column
per user model with a scoreboard row, after the four models' (before the rules'). The terminal needs no setting
for them: what the worker wrote is what it shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dash.dash_table import FormatTemplate
from sqlalchemy import Engine, select

from dashboard.overview import hit_column
from flameback_app.storage.db import MODEL_COLUMNS, SIGNAL_COLUMNS, model_signals


def latest_calls(engine: Engine, row: Mapping[str, Any]) -> dict[str, Any]:
    """The user models' calls on the tick ``row`` (a predictions row), as the flat keys the four use.

    ``{"mlp": "UP", "mlp_p_up": 0.53, "user_models": ("mlp",)}``; a key lookup on
    ``model_signals``' primary key (symbol, timestamp, seq, model).
    """
    stmt = (
        select(model_signals.c.model, model_signals.c.call, model_signals.c.p_up)
        .where(
            model_signals.c.symbol == row["symbol"],
            model_signals.c.timestamp == row["timestamp"],
            model_signals.c.seq == (row.get("seq") or 0),
        )
        .order_by(model_signals.c.model)
    )
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for model, call, p_up in conn.execute(stmt):
            out[model], out[f"{model}_p_up"] = call, p_up
    out["user_models"] = tuple(name for name in out if not name.endswith("_p_up"))
    return out


def model_names(last: Mapping[str, Any], rates: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Every model the symbol view lists: the four, then the user models (called on ``last`` or scored)."""
    scored = {name for board in rates for name in board}
    user = {*(last.get("user_models") or ()), *(scored - set(SIGNAL_COLUMNS))}
    return (*MODEL_COLUMNS, *sorted(user))


def scored_names(rates: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """User models with a scoreboard row on any symbol (``rates``: symbol → signal → figures), sorted."""
    return tuple(sorted({name for board in rates.values() for name in board} - set(SIGNAL_COLUMNS)))


def overview_columns(columns: list[dict[str, Any]], names: Iterable[str]) -> list[dict[str, Any]]:
    """The overview's columns with a HIT60 column per user model inserted after the four models' (before the rules')."""
    extra = [
        {"id": hit_column(name), "name": f"HIT60 {name}", "type": "numeric", "format": FormatTemplate.percentage(1)}
        for name in names
    ]
    last_model = hit_column(MODEL_COLUMNS[-1])
    at = next((k + 1 for k, c in enumerate(columns) if c["id"] == last_model), len(columns))
    return [*columns[:at], *extra, *columns[at:]]


def with_hit_rates(
    rows: list[dict[str, Any]], rates: Mapping[str, Mapping[str, Mapping[str, Any]]], names: Iterable[str]
) -> list[dict[str, Any]]:
    """Each overview row with its symbol's last-60-calls hit rate of every user model (None before any)."""
    names = tuple(names)
    for row in rows:
        board = rates.get(row["symbol"], {})
        row.update({hit_column(name): (board.get(name) or {}).get("hit_rate_60") for name in names})
    return rows
