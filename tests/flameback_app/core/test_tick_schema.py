"""docs/tick.schema.json, the producers' contract, agrees with the validator wherever a schema can say it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from flameback_app.core.validation import MAX_SEQ, MAX_TICKS_PER_MESSAGE, parse_message

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "tick.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
GOOD = {"symbol": "ES1 Index", "price": 6000.25, "timestamp": "2024-01-15T14:30:00.001Z"}

CASES = [
    GOOD,
    {**GOOD, "timestamp": 980_000_000},
    {**GOOD, "timestamp": 1_705_329_000_001},
    {**GOOD, "timestamp": 1_705_329_000_001_000_123},
    {**GOOD, "timestamp": 1_705_329_000.25},
    {"symbol": "X", "price": -37.63, "date": "2020-04-20"},
    {**GOOD, "seq": 0},
    {**GOOD, "seq": MAX_SEQ},
    {**GOOD, "seq": 7.0},
    {**GOOD, "seq": None},
    {**GOOD, "volume": 0},
    {**GOOD, "volume": 12.5},
    {**GOOD, "volume": None},
    {**GOOD, "venue": "CME"},  # unknown fields are ignored
    [GOOD, {**GOOD, "seq": 2}],
    # rejected
    {"price": 1.0, "timestamp": "2024-01-01"},
    {"symbol": "X", "timestamp": "2024-01-01"},
    {"symbol": "X", "price": 1.0},
    {**GOOD, "symbol": ""},
    {**GOOD, "symbol": " ES1"},
    {**GOOD, "symbol": "X" * 65},
    {**GOOD, "symbol": 7},
    {**GOOD, "price": "6000"},
    {**GOOD, "price": True},
    {**GOOD, "price": 1e300},
    {**GOOD, "price": -2e12},
    {**GOOD, "timestamp": -1},
    {**GOOD, "timestamp": True},
    {**GOOD, "timestamp": ""},
    {**GOOD, "seq": -1},
    {**GOOD, "seq": 1.5},
    {**GOOD, "seq": "3"},
    {**GOOD, "seq": MAX_SEQ + 1},
    {**GOOD, "volume": -0.5},
    {**GOOD, "volume": "9"},
    {**GOOD, "volume": 2e18},
    [],
    [GOOD] * (MAX_TICKS_PER_MESSAGE + 1),
    "GOOD",
    42,
]


@pytest.mark.parametrize("message", CASES, ids=lambda m: json.dumps(m)[:60])
def test_schema_and_validator_agree(message: object) -> None:
    parsed = parse_message(json.dumps(message).encode())
    accepted = parsed.rejection is None
    assert VALIDATOR.is_valid(message) == accepted, (parsed.rejection, list(VALIDATOR.iter_errors(message))[:2])


def test_the_cases_cover_both_outcomes() -> None:
    outcomes = [parse_message(json.dumps(m).encode()).rejection is None for m in CASES]
    assert outcomes.count(True) >= 10 and outcomes.count(False) >= 20


def test_the_schema_is_itself_valid() -> None:
    Draft202012Validator.check_schema(SCHEMA)
