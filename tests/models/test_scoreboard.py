"""Live scoreboard arithmetic: scoring against the next tick, rolling windows, baseline, pooled rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from flameback_app.storage import db
from models.scoreboard import WINDOWS, new_score_state, overall_rows, pooled_rows, score_tick, scoreboard_rows

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _by_signal(rows: list[dict]) -> dict[str, dict]:
    return {r["signal"]: r for r in rows}


def test_signals_are_scored_against_the_next_tick_of_the_same_symbol() -> None:
    state = new_score_state()
    state = score_tick(state, 100.0, {"A": "UP", "B": "DOWN", "C": "NEUTRAL", "D": None, "M": "TRAINING"})
    assert scoreboard_rows("X", state, NOW) == []  # nothing is scored before the next tick
    state = score_tick(state, 101.0, {"A": "UP", "B": "UP", "C": "UP"})  # went up
    state = score_tick(state, 101.0, {"A": "DOWN", "B": "DOWN"})  # flat: not higher
    state = score_tick(state, 99.0, {})  # went down
    rows = _by_signal(scoreboard_rows("X", state, NOW))
    assert set(rows) == {"A", "B", "C"}  # NEUTRAL, None and TRAINING are never scored
    assert (rows["A"]["n"], rows["A"]["hits"]) == (3, 2)  # UP right, UP wrong (flat), DOWN right
    assert (rows["B"]["n"], rows["B"]["hits"]) == (3, 1)  # DOWN wrong, UP wrong (flat), DOWN right
    assert rows["A"]["hit_rate"] == pytest.approx(2 / 3)
    assert rows["A"]["baseline_up_rate"] == pytest.approx(1 / 3)  # always-up on the same 3 ticks
    assert (rows["C"]["n"], rows["C"]["hits"], rows["C"]["baseline_up_rate"]) == (1, 0, 0.0)  # UP then flat
    assert rows["A"]["symbol"] == "X" and rows["A"]["updated_at"] == NOW


def test_rolling_rates_cover_the_last_w_scored_calls_and_the_state_stays_bounded() -> None:
    state = new_score_state()
    outcomes = []
    price = 100.0
    for i in range(400):
        state = score_tick(state, price, {"S": "UP"})
        went_up = i % 3 != 0
        price += 1.0 if went_up else -1.0
        outcomes.append(went_up)
    state = score_tick(state, price, {})
    row = scoreboard_rows("X", state, NOW)[0]
    assert row["n"] == 400 and row["hits"] == sum(outcomes)
    for w in WINDOWS:
        assert row[f"hit_rate_{w}"] == pytest.approx(sum(outcomes[-w:]) / w)
    assert len(json.dumps(state)) < 2000  # bounded: only the last 250 outcomes are kept


def test_state_survives_a_json_round_trip_mid_stream() -> None:
    ticks = [(100.0, {"S": "UP"}), (101.0, {"S": "DOWN"}), (100.5, {"S": "UP"}), (102.0, {"S": "UP"})]
    direct, restored = new_score_state(), new_score_state()
    for k, (price, signals) in enumerate(ticks):
        direct = score_tick(direct, price, signals)
        restored = score_tick(json.loads(json.dumps(restored)) if k == 2 else restored, price, signals)
    assert direct == restored


def test_rolling_rate_before_w_calls_uses_what_there_is() -> None:
    state = score_tick(score_tick(new_score_state(), 1.0, {"S": "UP"}), 2.0, {})
    row = scoreboard_rows("X", state, NOW)[0]
    assert row["hit_rate_20"] == row["hit_rate_250"] == 1.0


def test_overall_rows_pool_symbols() -> None:
    a, b = new_score_state(), new_score_state()
    for price in (1.0, 2.0, 3.0):  # A: two right calls
        a = score_tick(a, price, {"S": "UP"})
    for price in (5.0, 6.0, 7.0, 8.0, 9.0):  # B: four wrong calls
        b = score_tick(b, price, {"S": "DOWN"})
    (row,) = overall_rows([a, b], NOW)
    assert row["symbol"] == db.ALL_SYMBOLS
    assert (row["n"], row["hits"]) == (6, 2)
    assert row["hit_rate"] == pytest.approx(2 / 6) == row["hit_rate_20"]
    assert row["baseline_up_rate"] == 1.0
    per_symbol = scoreboard_rows("A", a, NOW) + scoreboard_rows("B", b, NOW)
    assert pooled_rows(per_symbol, NOW) == [row]


def test_rows_fit_the_database_scoreboard_table() -> None:
    state = score_tick(score_tick(new_score_state(), 1.0, {"RSI_Rule": "UP"}), 2.0, {})
    columns = {c.name for c in db.scoreboard.columns}
    assert set(scoreboard_rows("X", state, NOW)[0]) <= columns
    assert set(overall_rows([state], NOW)[0]) <= columns
