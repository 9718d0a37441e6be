"""The terminal's reads and refresh functions on a real SQLite file and a real PostgreSQL database (no browser).

Checks results, that every per-refresh query is answered from an index (no table
scan), that the terminal's connections cannot write, that a missing file is reported
and never created, and what each refresh returns for missing, empty, older-schema,
warm-up and locked databases. Tests taking ``database`` run on both.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dash
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

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
from dashboard.figures import fmt_price
from dashboard.symbols import describe, load_symbol_sheet
from flameback_app.storage import schema
from flameback_app.storage.db import insert_predictions, make_engine, write_counters
from flameback_app.storage.schema import upgrade
from tests.support.migrations import HEAD_REVISION, NEXT_REVISION_ID, migrations_with_next_revision
from tests.support.seed import prediction_rows, seed_database

SYMBOLS = {"CL1 Comdty": 120, "ES1 Index": 80, "C 1 Comdty": 40}


@pytest.fixture
def seeded(database) -> str:
    seed_database(database.url, SYMBOLS).dispose()
    return database.url


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
    [(worker, (values, updated_at))] = queries.counters(engine).items()
    assert worker == "" and values["ticks_processed"] == sum(SYMBOLS.values()) and updated_at is not None


def query_plan(engine: Engine, statement: str, params: dict | None = None) -> str:
    """The plan of a statement: SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's EXPLAIN with table scans disfavoured.

    A table this small is cheaper to scan than to seek, so PostgreSQL is told to avoid
    sequential scans: it still chooses one when no index can answer the query.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return " | ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {statement}"), params))
        conn.exec_driver_sql("SET enable_seqscan = off")
        return " | ".join(str(row[0]) for row in conn.execute(text(f"EXPLAIN {statement}"), params))


@pytest.mark.parametrize(
    "statement",
    [
        queries.SYMBOLS_SKIP_SCAN.text,
        "SELECT id FROM predictions WHERE symbol = :s AND id > :i ORDER BY id DESC LIMIT 500",
        "SELECT MAX(id) FROM predictions WHERE symbol = :s",
    ],
)
def test_refresh_queries_use_an_index(seeded, statement):
    engine = queries.reader_engine(seeded)
    plan = query_plan(engine, statement, {"s": "CL1 Comdty", "i": 0})
    if engine.dialect.name == "sqlite":
        assert "SEARCH predictions USING" in plan and "SCAN predictions" not in plan, plan
    else:
        assert "Index" in plan and "Seq Scan" not in plan, plan


def test_rows_query_as_issued_uses_the_symbol_id_index(seeded):
    engine = queries.reader_engine(seeded)
    stmt = queries._chart_rows().where(queries.predictions.c.symbol == "x", queries.predictions.c.id > 0)
    stmt = stmt.order_by(queries.predictions.c.id.desc()).limit(5)
    plan = query_plan(engine, str(stmt.compile(engine, compile_kwargs={"literal_binds": True})))
    assert "ix_predictions_id_symbol" in plan, plan
    assert ("TEMP B-TREE" if engine.dialect.name == "sqlite" else "Sort") not in plan, plan


def test_the_terminal_cannot_write(seeded):
    engine = queries.reader_engine(seeded)
    with pytest.raises(DBAPIError, match="readonly|read-only"), engine.connect() as conn:
        conn.execute(text("DELETE FROM predictions"))
    assert queries.symbols(engine) == sorted(SYMBOLS)


def test_an_older_schema_is_reported_not_read(database, tmp_path):
    """A terminal newer than the database says so (and never migrates); once upgraded, it reads."""
    location = migrations_with_next_revision(tmp_path)  # this "terminal" expects the revision after the head
    seed_database(database.url, SYMBOLS).dispose()  # at the package's head
    src = Source(database.url, queries.reader_engine(database.url), {}, 50, queries.SchemaGate(location))
    update = view_update(src, "CL1 Comdty", None)
    assert update[(ids.STATUS, "children")].startswith("DATABASE SCHEMA OLDER THAN THIS TERMINAL"), update
    assert (
        f"revision {NEXT_REVISION_ID}" in update[(ids.STATUS, "children")]
        and schema.UPGRADE_COMMAND in update[(ids.STATUS, "children")]
    )
    assert "SCHEMA OLDER" in str(health_update(src)[0])
    engine = make_engine(database.url)
    assert schema.schema_state(engine, location).revision == HEAD_REVISION  # the terminal did not touch it
    schema.upgrade(engine, location)
    engine.dispose()
    update = view_update(src, "CL1 Comdty", None)
    assert update[(ids.STATUS, "children")] == "" and update[(ids.CURSOR, "data")]["rows"] == 50


def test_missing_database_is_reported_and_not_created(tmp_path):
    path = tmp_path / "nothing" / "flameback.db"
    src = source(f"sqlite:///{path}")
    update = view_update(src, None, None)
    assert update[(ids.STATUS, "children")].startswith("NO DATABASE")
    assert symbol_choices(src, None, None) == (dash.no_update, dash.no_update)
    assert "NO DATABASE" in str(health_update(src)[0])
    assert not path.exists() and not path.parent.exists()


def test_empty_database_says_no_data(database):
    if database.path is not None:
        sqlite3.connect(database.path).close()  # a file without tables: the worker has not created the schema yet
    assert view_update(source(database.url), None, None)[(ids.STATUS, "children")] == EMPTY_DB
    upgrade(make_engine(database.url))
    assert view_update(source(database.url), None, None)[(ids.STATUS, "children")] == EMPTY_DB  # tables, no rows


def test_first_refresh_reads_the_newest_rows_then_only_newer_ones(seeded):
    """The KPIs, signals and technicals follow a cursor; the chart is drawn by time range (test_history.py)."""
    src = source(seeded, max_points=50)
    first = view_update(src, "CL1 Comdty", NO_CURSOR)
    cursor = first[(ids.CURSOR, "data")]
    assert cursor["rows"] == 50 and (ids.SYMBOL_INFO, "children") in first
    assert view_update(src, "CL1 Comdty", cursor) == {(ids.STATUS, "children"): "", (ids.STATUS, "className"): "status"}
    rows, _state, _price = prediction_rows("CL1 Comdty", 3, skip=500)
    insert_predictions(make_engine(seeded), rows)
    later = view_update(src, "CL1 Comdty", cursor)
    assert later[(ids.CURSOR, "data")]["last_id"] > cursor["last_id"] and later[(ids.CURSOR, "data")]["rows"] == 50
    assert later[(ids.KPI_PRICE, "children")] == fmt_price(rows[-1]["current_price"])
    assert (ids.SYMBOL_INFO, "children") not in later  # no redraw: the symbol did not change


def test_warm_up_rows_render_without_errors(database):
    seed_database(database.url, {"AAA Index": 5}).dispose()
    update = view_update(source(database.url), "AAA Index", None)
    assert "WARMING UP" in update[(ids.STATUS, "children")]
    assert "WARM-UP" in str(update[(ids.SIGNALS, "children")])


def test_locked_database_is_reported(db_url):
    seed_database(db_url, SYMBOLS).dispose()
    path = db_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=DELETE")
    writer.execute("BEGIN EXCLUSIVE")
    try:
        update = view_update(source(db_url), "CL1 Comdty", None)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert update[(ids.STATUS, "children")] == LOCKED_DB and update[(ids.STATUS, "className")] == "status error"


def test_symbol_sheet_matches_case_insensitively(tmp_path):
    sheet_file = tmp_path / "sheet.csv"
    sheet_file.write_text(
        "Title,,\n, *,\n,x,\nx,\nDescription,Symbol,Root Symbol,Generic Symbol,Start,Start,End,Sector,"
        "Exchange\nLight  Crude\u00a0Oil,CL,CL,CL1 COMDTY,a,b,c,Energy,NYMEX\n"
    )
    sheet = load_symbol_sheet(sheet_file)
    assert describe("CL1 Comdty", sheet) == "CL1 Comdty — Light Crude Oil · Energy"
    assert describe("ZZ1 Index", sheet) == "ZZ1 Index" and load_symbol_sheet(Path("/nonexistent.csv")) == {}


def test_the_models_note_says_how_far_the_first_training_is():
    waiting = {"models_loaded": 0, "training_rows": 480, "training_rows_needed": 2000}
    assert models_note(waiting).startswith("TRAINING — 480 of the 2,000 warmed-up rows")
    assert "fitting the first models on 2,300 rows" in models_note(
        {**waiting, "training_rows": 2300, "training_active": 1}
    )
    assert models_note({**waiting, "models_loaded": 1}) == ""
    assert models_note({"ticks_processed": 5}) == ""  # a worker that does not publish it: say nothing


def panel_cells(panel: Any) -> list[list[str]]:
    """The health table's text, row by row (header first)."""
    return [
        [str(cell.children.children if hasattr(cell.children, "children") else cell.children) for cell in row.children]
        for row in panel.children
    ]


def test_the_health_panel_shows_every_worker_their_sum_and_stale_ones(database):
    """Three workers publish; one stopped 30 s ago: it is marked stale and left out of the sum."""
    engine = make_engine(database.url)
    upgrade(engine)
    now = time.time()
    for worker, ticks, age_s in (("host-a:101", 1000, 1.0), ("host-b:202", 300, 2.0), ("host-c:303", 50, 30.0)):
        written = datetime.fromtimestamp(now - age_s, UTC).replace(tzinfo=None)
        figures = {
            "ticks_processed": ticks,
            "ticks_per_s": ticks / 10,
            "rejected_total": 1,
            "rows_written": ticks,
            "last_tick_time": now - age_s,
            "models_loaded": 1,
        }
        write_counters(engine, figures, written, worker=worker)
    engine.dispose()
    panel, _clock, note = health_update(source(database.url), now=now)
    header, *rows = panel_cells(panel)
    assert header == ["", "all (2 current)", "host-a:101", "host-b:202", "host-c:303 (stale)"]
    by_label = {row[0]: row[1:] for row in rows}
    assert by_label["Ticks processed"] == ["1,300", "1,000", "300", "50"]  # the stale worker is not in the sum
    assert by_label["Rejected"] == ["2", "1", "1", "1"]
    assert by_label["Counters age"] == ["1.0 s", "1.0 s", "2.0 s", "30.0 s"]
    assert note == ""
