"""The typed records the stages hand each other, and their flat forms (database rows, the feature topic)."""

from __future__ import annotations

import json
from datetime import datetime

from flameback_app.core.records import FeatureRow, Signals, Tick
from tables.symbol_state import SymbolState

T0 = datetime(2026, 12, 3, 9, 30, 0, 123000)


def test_a_feature_row_flattens_to_the_database_columns_and_back() -> None:
    state = SymbolState()
    rows = [state.apply(Tick("ES", 100.0 + i, T0.replace(second=i), seq=i, volume=2.0)) for i in range(40)]
    last = rows[-1]
    flat = last.columns()
    assert list(flat)[:5] == ["symbol", "timestamp", "seq", "volume", "current_price"]
    assert (flat["symbol"], flat["seq"], flat["current_price"]) == ("ES", 39, 139.0)
    assert flat["sma_5"] == sum(range(135, 140)) / 5 and rows[0].indicators["sma_5"] is None  # warm-up: None
    assert FeatureRow.from_columns(flat) == last


def test_the_feature_topic_message_is_the_flat_row_with_an_iso_timestamp() -> None:
    row = SymbolState().apply(Tick("NQ", 5.5, T0))
    message = json.loads(row.to_json_bytes())
    assert message == {**row.columns(), "timestamp": "2026-12-03T09:30:00.123000"}
    assert message["seq"] == 0 and message["volume"] is None


def test_signals_flatten_to_one_column_per_call_and_per_probability() -> None:
    signals = Signals(
        {"XGBoost": "UP", "RSI_Rule": None, "mine": "DOWN"}, {"XGBoost": 0.7, "mine": 0.2}, "v7", ("mine",)
    )
    assert signals.columns() == {
        "XGBoost": "UP",
        "RSI_Rule": None,
        "mine": "DOWN",
        "XGBoost_p_up": 0.7,
        "mine_p_up": 0.2,
        "model_version": "v7",
        "user_models": ("mine",),
    }
