"""The five rules: truth table, warm-up (no signal), the vectorised path equals the per-row path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import inspect

from flameback_app.storage import db, schema
from models import columns
from models.rules import apply_rules, bollinger_rule, rule_frame, threshold_rule


@pytest.mark.parametrize(
    ("value", "threshold", "expected"),
    [
        (50.0001, 50.0, "UP"),
        (50.0, 50.0, "DOWN"),
        (12.0, 50.0, "DOWN"),
        (1e-12, 0.0, "UP"),
        (0.0, 0.0, "DOWN"),
        (-3.0, 0.0, "DOWN"),
        (None, 50.0, None),
        (float("nan"), 0.0, None),
    ],
)
def test_threshold_rules(value: float | None, threshold: float, expected: str | None) -> None:
    assert threshold_rule(value, threshold) == expected


@pytest.mark.parametrize(
    ("price", "upper", "lower", "expected"),
    [
        (11.0, 10.0, 8.0, "DOWN"),
        (7.0, 10.0, 8.0, "UP"),
        (9.0, 10.0, 8.0, "NEUTRAL"),
        (10.0, 10.0, 8.0, "NEUTRAL"),
        (8.0, 10.0, 8.0, "NEUTRAL"),
        (5.0, 5.0, 5.0, "NEUTRAL"),
        (9.0, None, 8.0, None),
        (9.0, 10.0, float("nan"), None),
    ],
)
def test_bollinger_rule(price: float, upper: float | None, lower: float | None, expected: str | None) -> None:
    assert bollinger_rule(price, upper, lower) == expected


def test_each_rule_reads_its_own_indicator() -> None:
    row = {
        "current_price": 12.0,
        "rsi_14": 70.0,
        "macd_line": -0.5,
        "momentum_10": 0.01,
        "price_change_pct": -0.2,
        "bb_upper": 11.0,
        "bb_lower": 9.0,
    }
    assert apply_rules(row) == {
        "RSI_Rule": "UP",
        "MACD_Rule": "DOWN",
        "Momentum_Rule": "UP",
        "PriceChange_Rule": "DOWN",
        "BB_Rule": "DOWN",
    }


def test_warm_up_row_gives_no_signal_rather_than_a_made_up_call() -> None:
    row = {
        "current_price": 12.0,
        "rsi_14": None,
        "macd_line": None,
        "momentum_10": None,
        "price_change_pct": None,
        "bb_upper": None,
        "bb_lower": None,
    }
    assert apply_rules(row) == dict.fromkeys(columns.RULE_COLUMNS)


def test_vectorised_rules_equal_per_row_rules() -> None:
    rng = np.random.default_rng(5)
    n = 500
    frame = pd.DataFrame(
        {
            "current_price": rng.uniform(8, 12, n),
            "rsi_14": rng.uniform(0, 100, n),
            "macd_line": rng.normal(0, 1, n),
            "momentum_10": rng.normal(0, 0.01, n),
            "price_change_pct": rng.normal(0, 1, n),
            "bb_upper": np.full(n, 11.0),
            "bb_lower": np.full(n, 9.0),
        }
    )
    frame = frame.mask(rng.random(frame.shape) < 0.1)  # undefined values (warm-up) scattered everywhere
    frame.loc[:5, "rsi_14"] = 50.0  # the boundary itself
    vectorised = rule_frame(frame).to_dict("records")
    per_row = [apply_rules(r) for r in frame.to_dict("records")]
    assert vectorised == per_row
    assert {c for r in per_row for c in r.values()} == {"UP", "DOWN", "NEUTRAL", None}


def test_every_signal_has_its_column_in_a_migrated_database(tmp_path: Path) -> None:
    """The migrations, not the ORM table, create the columns: a signal added to the models without a migration fails here."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'fb.db'}")
    schema.prepare(engine)
    stored = {column["name"] for column in inspect(engine).get_columns("predictions")}
    engine.dispose()
    for name in (*columns.MODEL_COLUMNS, *columns.PROBABILITY_COLUMNS, *columns.RULE_COLUMNS):
        assert name in stored, f"{name} has no column in the migrated predictions table"
