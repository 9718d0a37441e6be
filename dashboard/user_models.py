"""The user's own models (FLAMEBACK_USER_MODELS) in the terminal, beside the built-in four.

Their calls live in the long ``model_signals`` table (one row per tick and model), not
in ``predictions`` columns; this module reads the calls of one tick and lists, in one
place, which models the symbol view shows: the four, then every user model that made
a call on that tick or has a scoreboard row. The terminal needs no setting for
them: what the worker wrote is what it shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, select

from flameback_app.db import MODEL_COLUMNS, SIGNAL_COLUMNS, model_signals


def latest_calls(engine: Engine, row: Mapping[str, Any]) -> dict[str, Any]:
    """The user models' calls on the tick ``row`` (a predictions row), as the flat keys the four use.

    ``{"mlp": "UP", "mlp_p_up": 0.53, "user_models": ("mlp",)}``; a key lookup on
    ``model_signals``' primary key (symbol, timestamp, seq, model).
    """
    stmt = select(model_signals.c.model, model_signals.c.call, model_signals.c.p_up).where(
        model_signals.c.symbol == row["symbol"], model_signals.c.timestamp == row["timestamp"],
        model_signals.c.seq == (row.get("seq") or 0)).order_by(model_signals.c.model)  # fmt: skip
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
