"""Fixtures every test directory shares: the database, the real data file and the TA-Lib reference.

``database`` is the one parametrised database fixture: a test that proves something
about the database asks for it and runs twice, on a SQLite file and on a fresh
PostgreSQL database (``test_x[sqlite]``, ``test_x[postgresql]``). The PostgreSQL
server starts once per session, only if a test needs it; without PostgreSQL those
tests skip with the reason, except under CI (env ``CI`` set), where they fail.

The real data file is read from ``../shared/data`` beside the repository (never copied
into it; ``FLAMEBACK_MARKET_DATA_DIR`` moves it); tests that need it skip with the reason
when it is absent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from flameback_app.core.ticks_csv import read_ticks
from flameback_app.settings import Settings
from tests.support.reference import compare, engine_features, talib_features

DATABASES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Database:
    """Where a test's data lives: ``kind`` is "sqlite" or "postgresql"; ``path`` is the SQLite file."""

    kind: str
    url: str
    path: Path | None = None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A PostgreSQL server for the whole session (fsync off, a non-UTC zone so timestamp bugs show)."""
    try:
        from tests.support.postgres import PostgresServer, PostgresUnavailable
    except ImportError as exc:  # psycopg missing: the [postgres] extra is not installed
        _unavailable(f"psycopg is not installed ({exc}); scripts/setup.sh --test installs the [postgres] extra")
    try:
        server = PostgresServer(durable=False, timezone="America/New_York").start()
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
    yield server
    server.stop()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of its own for this test: a SQLite file, or a PostgreSQL database created fresh."""
    if request.param == "sqlite":
        path = tmp_path / "flameback.db"
        yield Database("sqlite", f"sqlite:///{path}", path)
        return
    server = request.getfixturevalue("postgres_server")
    name = f"fb_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    yield Database("postgresql", url)
    server.drop_database(name)


REAL_FILE = Settings().market_file


@pytest.fixture(scope="session")
def real_file() -> Path:
    """The 2001–2019 Bloomberg export, or a skip saying where it was looked for."""
    if not REAL_FILE.is_file():
        pytest.skip(f"real data file not found at {REAL_FILE} (it lives beside the repository, not in it)")
    return REAL_FILE


@pytest.fixture(scope="session")
def real_series(real_file: Path) -> dict[str, list[float]]:
    """Prices per symbol, in file order."""
    series: dict[str, list[float]] = {}
    for located in read_ticks(real_file):
        series.setdefault(located.tick.symbol, []).append(located.tick.price)
    return series


@pytest.fixture(scope="session")
def reference() -> Callable[..., dict[str, np.ndarray]]:
    return talib_features


@pytest.fixture(scope="session")
def run_engine() -> Callable[..., dict[str, np.ndarray]]:
    return engine_features


@pytest.fixture(scope="session")
def assert_close() -> Callable[..., dict[str, tuple[int, float, float]]]:
    return compare


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLite URL in the test's own temporary directory (nothing created yet)."""
    return f"sqlite:///{tmp_path / 'flameback.db'}"
