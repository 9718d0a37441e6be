"""Fixtures every test directory shares: the throwaway PostgreSQL server and the ``database`` fixture.

``database`` is the one parametrised database fixture: a test that proves something
about the database asks for it and runs twice, on a SQLite file and on a fresh
PostgreSQL database (``test_x[sqlite]``, ``test_x[postgresql]``). The PostgreSQL
server starts once per session, only if a test needs it; without PostgreSQL those
tests skip with the reason, except under CI (env ``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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
        from tests.postgres import PostgresServer, PostgresUnavailable
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
