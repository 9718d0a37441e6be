"""The terminal's reads and refresh functions on a real SQLite file (no browser).

Checks results, that every per-refresh query is answered from an index (no table
scan), that a missing file is reported and never created, and what each refresh
returns for missing, empty, warm-up and locked databases.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import dash
import pytest
from sqlalchemy import text

from dashboard import ids, queries
from dashboard.callbacks import (
    EMPTY_DB,
    LOCKED_DB,
    NO_CURSOR,
    Source,
    health_update,
    models_note,
    symbol_choices,
    view_update,
)
from dashboard.symbols import describe, load_symbol_sheet
from flameback_app.db import insert_predictions, make_engine
from tests.browser.seed import prediction_rows, seed_database

SYMBOLS = {"CL1 Comdty": 120, "ES1 Index": 80, "C 1 Comdty": 40}


@pytest.fixture
def seeded(db_url: str) -> str:
    seed_database(db_url, SYMBOLS).dispose()
    return db_url


def source(url: str, max_points: int = 50) -> Source:
    return Source(url, queries.reader_engine(url), {}, max_points)


def test_symbols_are_distinct_and_sorted(seeded):
    assert queries.symbols(queries.reader_engine(seeded)) == sorted(SYMBOLS)


def test_latest_rows_are_the_newest_oldest_first(seeded):
    rows = queries.latest_rows(queries.reader_engine(seeded), "ES1 Index", 30)
    assert len(rows) == 30 and all(r["symbol"] == "ES1 Index" for r in rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert rows[-1]["id"] == queries.latest_id(queries.reader_engine(seeded), "ES1 Index")


def test_rows_after_returns_only_newer_rows(seeded):
    engine = queries.reader_engine(seeded)
    rows = queries.latest_rows(engine, "CL1 Comdty", 120)
    cursor = rows[100]["id"]
    newer = queries.rows_after(engine, "CL1 Comdty", cursor, 500)
    assert [r["id"] for r in newer] == [r["id"] for r in rows[101:]]
    assert queries.rows_after(engine, "CL1 Comdty", rows[-1]["id"], 500) == []
    assert [r["id"] for r in queries.rows_after(engine, "CL1 Comdty", 0, 5)] == [r["id"] for r in rows[-5:]]


def test_hit_rates_and_counters(seeded):
    engine = queries.reader_engine(seeded)
    rates = queries.hit_rates(engine, "CL1 Comdty")
    assert set(rates) == {"CL1 Comdty", "*"} and len(rates["CL1 Comdty"]) == 9 and len(rates["*"]) == 9
    values, updated_at = queries.counters(engine)
    assert values["ticks_processed"] == sum(SYMBOLS.values()) and updated_at is not None


@pytest.mark.parametrize("statement", [
    queries.SYMBOLS_SKIP_SCAN.text,
    "SELECT id FROM predictions WHERE symbol = :s AND id > :i ORDER BY id DESC LIMIT 500",
    "SELECT MAX(id) FROM predictions WHERE symbol = :s",
])  # fmt: skip
def test_refresh_queries_use_an_index(seeded, statement):
    engine = queries.reader_engine(seeded)
    with engine.connect() as conn:
        plan = " | ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {statement}"),
                                                               {"s": "CL1 Comdty", "i": 0}))  # fmt: skip
    assert "SEARCH predictions USING" in plan and "SCAN predictions" not in plan, plan


def test_rows_query_as_issued_uses_the_symbol_id_index(seeded):
    engine = queries.reader_engine(seeded)
    stmt = queries._chart_rows().where(queries.predictions.c.symbol == "x", queries.predictions.c.id > 0)
    stmt = stmt.order_by(queries.predictions.c.id.desc()).limit(5)
    compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = " | ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "ix_predictions_id_symbol" in plan and "TEMP B-TREE" not in plan, plan


def test_missing_database_is_reported_and_not_created(tmp_path):
    path = tmp_path / "nothing" / "flameback.db"
    src = source(f"sqlite:///{path}")
    update = view_update(src, None, None)
    assert update[(ids.STATUS, "children")].startswith("NO DATABASE")
    assert symbol_choices(src, None, None) == (dash.no_update, dash.no_update)
    assert "NO DATABASE" in str(health_update(src)[0])
    assert not path.exists() and not path.parent.exists()


def test_empty_database_says_no_data(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # a file without tables: the worker has not created the schema yet
    assert view_update(source(f"sqlite:///{path}"), None, None)[(ids.STATUS, "children")] == EMPTY_DB


def test_first_refresh_draws_then_later_refreshes_append(seeded):
    src = source(seeded, max_points=50)
    first = view_update(src, "CL1 Comdty", NO_CURSOR)
    cursor = first[(ids.CURSOR, "data")]
    assert len(first[(ids.PRICE_CHART, "figure")]["data"][0]["x"]) == 50 and (ids.PRICE_CHART, "extendData") not in first
    assert view_update(src, "CL1 Comdty", cursor) == {(ids.STATUS, "children"): "", (ids.STATUS, "className"): "status"}
    rows, _state, _price = prediction_rows("CL1 Comdty", 3, skip=500)
    insert_predictions(make_engine(seeded), rows)
    later = view_update(src, "CL1 Comdty", cursor)
    extension, traces, max_points = later[(ids.PRICE_CHART, "extendData")]
    assert len(extension["x"][0]) == 3 and traces == [0, 1, 2, 3, 4] and max_points == 50
    assert (ids.PRICE_CHART, "figure") not in later and later[(ids.CURSOR, "data")]["last_id"] > cursor["last_id"]


def test_warm_up_rows_render_without_errors(db_url):
    seed_database(db_url, {"AAA Index": 5}).dispose()
    update = view_update(source(db_url), "AAA Index", None)
    assert "WARMING UP" in update[(ids.STATUS, "children")]
    assert "WARM-UP" in str(update[(ids.SIGNALS, "children")])


def test_locked_database_is_reported(seeded):
    path = seeded.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=DELETE")
    writer.execute("BEGIN EXCLUSIVE")
    try:
        update = view_update(source(seeded), "CL1 Comdty", None)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert update[(ids.STATUS, "children")] == LOCKED_DB and update[(ids.STATUS, "className")] == "status error"


def test_symbol_sheet_matches_case_insensitively(tmp_path):
    sheet_file = tmp_path / "sheet.csv"
    sheet_file.write_text("Title,,\n, *,\n,x,\nx,\nDescription,Symbol,Root Symbol,Generic Symbol,Start,Start,End,Sector,"
                          "Exchange\nLight  Crude\u00a0Oil,CL,CL,CL1 COMDTY,a,b,c,Energy,NYMEX\n")  # fmt: skip
    sheet = load_symbol_sheet(sheet_file)
    assert describe("CL1 Comdty", sheet) == "CL1 Comdty — Light Crude Oil · Energy"
    assert describe("ZZ1 Index", sheet) == "ZZ1 Index" and load_symbol_sheet(Path("/nonexistent.csv")) == {}


def test_the_models_note_says_how_far_the_first_training_is():
    waiting = {"models_loaded": 0, "training_rows": 480, "training_rows_needed": 2000}
    assert models_note(waiting).startswith("TRAINING — 480 of the 2,000 warmed-up rows")
    assert "fitting the first models on 2,300 rows" in models_note({**waiting, "training_rows": 2300,
                                                                    "training_active": 1})  # fmt: skip
    assert models_note({**waiting, "models_loaded": 1}) == ""
    assert models_note({"ticks_processed": 5}) == ""  # a worker that does not publish it: say nothing
