"""The database layer on a real SQLite file: lock waits, clear failures.

(Idempotent inserts, timestamps and floats on both SQLite and PostgreSQL: tests/e2e/test_database.py.)
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from flameback_app.storage import db, schema


def prediction_rows(n: int, symbol: str = "ES1 Index", start: int = 0) -> list[dict]:
    base = datetime(2020, 1, 1)
    return [
        {
            "symbol": symbol,
            "timestamp": base + timedelta(days=start + i),
            "current_price": 100.0 + i,
            "processing_time": base,
            "rsi_14": 50.0,
            "XGBoost": "UP",
        }
        for i in range(n)
    ]


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.predictions)).scalar_one()


@pytest.fixture
def engine(tmp_path: Path):
    eng = db.make_engine(f"sqlite:///{tmp_path / 'sub' / 'fb.db'}")
    schema.upgrade(eng)
    yield eng
    eng.dispose()


def test_wal_mode_and_parent_directory(engine, tmp_path: Path) -> None:
    assert (tmp_path / "sub" / "fb.db").exists()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_reader_holding_the_lock_delays_writes_but_loses_nothing(engine, tmp_path: Path) -> None:
    locked = threading.Event()

    def hold_lock() -> None:
        conn = sqlite3.connect(tmp_path / "sub" / "fb.db", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(5)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(5)
    started = time.monotonic()
    written = db.insert_predictions(engine, prediction_rows(500))
    waited = time.monotonic() - started
    holder.join()
    assert written == 500 and count(engine) == 500
    assert waited >= 4.0  # it really waited for the lock instead of failing or dropping rows


def test_a_read_only_database_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    eng = db.make_engine(f"sqlite:///{path}")
    schema.upgrade(eng)
    eng.dispose()
    ro = db.make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(OperationalError, match="readonly"):
        db.insert_predictions(ro, prediction_rows(1))
