"""Fixtures for end-to-end tests: one real Tansu broker per session, one isolated stack per test."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from flameback_app.core.ticks_csv import read_ticks
from tests.support.harness import REAL_FILE, Broker, Stack
from tests.support.market_data import generated_rows, write_long_csv

E2E_SYMBOLS = ("ES1 Index", "CL1 Comdty", "GC1 Comdty", "C 1 Comdty", "NG1 Comdty", "QC1 Index")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real embedded broker per test (topics are shared by name, so tests need their own).

    It must start: a missing broker fails the run, never skips it.
    """
    running = Broker(tmp_path / "tansu.log").start()
    yield running
    running.stop()


@pytest.fixture
def stack(broker: Broker, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """An isolated deployment; on the test's ``database`` (SQLite and PostgreSQL) when it asks for one."""
    db = request.getfixturevalue("database") if "database" in request.fixturenames else None
    deployment = Stack(
        root=tmp_path,
        broker=broker,
        app_id=f"fb-test-{uuid.uuid4().hex[:8]}",
        db_file=db.path if db else None,
        db_url=db.url if db and db.path is None else None,
    )
    yield deployment
    deployment.stop_all()


@pytest.fixture(scope="session")
def real_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A long-layout file with the real ticks of a few symbols (or a generated walk when the data is absent).

    Without the real data (it lives beside the checkout, never in it) a seeded random
    walk of the same shape keeps the pipeline tests meaningful instead of skipping them.
    """
    path = tmp_path_factory.mktemp("data") / "ticks.csv"
    if REAL_FILE.exists():
        rows = [
            (t.tick.symbol, t.tick.price, t.tick.timestamp.isoformat()) for t in read_ticks(REAL_FILE, set(E2E_SYMBOLS))
        ]
    else:
        warn_generated()
        rows = generated_rows(E2E_SYMBOLS, days=3000)
    return write_long_csv(path, rows)


def warn_generated() -> None:
    warnings.warn(f"{REAL_FILE} not found: the end-to-end tests run on generated prices instead", stacklevel=2)


@pytest.fixture(scope="session")
def real_50k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 50,000 ticks of the real file in time order, all symbols (generated when absent)."""
    path = tmp_path_factory.mktemp("data") / "50k.csv"
    if REAL_FILE.exists():
        rows = sorted(
            ((t.tick.symbol, t.tick.price, t.tick.timestamp.isoformat()) for t in read_ticks(REAL_FILE)),
            key=lambda r: r[2],
        )[:50_000]
    else:
        warn_generated()
        rows = generated_rows(tuple(f"GEN{i} Index" for i in range(20)), days=2500)
    return write_long_csv(path, rows)
