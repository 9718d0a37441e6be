"""The worker's writes, on a SQLite file and on PostgreSQL: what differs between the two is what is checked.

- the insert that ignores duplicates reports exactly the rows it added (the
  ``rows_written`` counter comes from it), within a batch and across batches;
- timestamps come back as the naive UTC values written, to the microsecond, whatever
  the server's time zone (the test server runs in America/New_York);
- floats come back bit for bit (PostgreSQL ``double precision``), None as None;
- the scoreboard upsert replaces rows instead of adding them.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from flameback_app.storage import db, schema
from tests.support.seed import scoreboard_rows

pytestmark = pytest.mark.e2e

AWKWARD_FLOATS = (0.1 + 0.2, 1 / 3, math.pi * 1e15, 5e-324, -2.2250738585072014e-308, 1.7976931348623157e308)


def rows(n: int, symbol: str = "ES1 Index", start: int = 0) -> list[dict]:
    base = datetime(2020, 3, 8, 1, 59, 59, 999_999)  # an hour before New York's clocks jump
    return [
        {
            "symbol": symbol,
            "timestamp": base + timedelta(minutes=30 * (start + i)),
            "current_price": 100.0 + i,
            "processing_time": base,
            "rsi_14": AWKWARD_FLOATS[(start + i) % len(AWKWARD_FLOATS)],
            "macd_line": None,
            "XGBoost": "UP",
        }
        for i in range(n)
    ]


def test_inserts_are_idempotent_and_count_only_new_rows(database) -> None:
    engine = db.make_engine(database.url)
    schema.upgrade(engine)
    assert db.insert_predictions(engine, rows(10)) == 10
    assert db.insert_predictions(engine, rows(15)) == 5  # 10 already there
    assert db.insert_predictions(engine, rows(5, symbol="CL1 Comdty")) == 5
    assert db.insert_predictions(engine, rows(3) + rows(3)) == 0  # duplicates inside one batch too
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.predictions)).scalar_one() == 20
    engine.dispose()


def test_timestamps_and_floats_round_trip_exactly(database) -> None:
    engine = db.make_engine(database.url)
    schema.upgrade(engine)
    written = rows(12)
    db.insert_predictions(engine, written)
    p = db.predictions.c
    with engine.connect() as conn:
        read = conn.execute(select(p.timestamp, p.processing_time, p.rsi_14, p.macd_line).order_by(p.id)).all()
    engine.dispose()
    assert [r.timestamp for r in read] == [w["timestamp"] for w in written]  # naive, no zone shift, microseconds kept
    assert all(r.timestamp.tzinfo is None and r.processing_time == written[0]["processing_time"] for r in read)
    assert [r.rsi_14.hex() for r in read] == [w["rsi_14"].hex() for w in written]  # bit for bit
    assert all(r.macd_line is None for r in read)


def test_scoreboard_upsert_replaces_rows(database) -> None:
    engine = db.make_engine(database.url)
    schema.upgrade(engine)
    first = scoreboard_rows(["CL1 Comdty"], seed=1)
    db.upsert_scoreboard(engine, first)
    second = [{**r, "n": r["n"] + 1, "hits": r["hits"] + 1} for r in scoreboard_rows(["CL1 Comdty"], seed=2)]
    db.upsert_scoreboard(engine, second)
    with engine.connect() as conn:
        stored = {(r.symbol, r.signal): r.n for r in conn.execute(select(db.scoreboard))}
    engine.dispose()
    assert stored == {(r["symbol"], r["signal"]): r["n"] for r in second} and len(stored) == len(first)
