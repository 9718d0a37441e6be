"""The versioned database schema: Alembic revisions, the start-up check, the migration lock.

Reads and writes only the database it is given. The revisions live in
``flameback_app/storage/migrations/versions`` (inside the package, so an installed copy
finds them from any working directory); the version is kept in the table
:data:`VERSION_TABLE` (its own name, so another Alembic project sharing a
PostgreSQL database keeps its ``alembic_version``).

- A worker calls :func:`prepare` before it starts: nothing to do at the newest
  revision; otherwise it upgrades (or, with ``FLAMEBACK_DB_AUTO_UPGRADE=false``,
  raises :class:`SchemaError` whose one-line message names :data:`UPGRADE_COMMAND`).
- A database made by the pre-migration ``metadata.create_all`` (commit 62372df: the
  baseline tables, no version table) is that baseline: it is stamped
  :data:`BASELINE`, then upgraded.
- Upgrades run in one transaction that first takes the migration lock, then reads
  the version again: two workers starting together on an old database migrate it
  once; the second waits and finds it current. PostgreSQL: a transaction-level
  advisory lock (``pg_advisory_xact_lock``), released by the commit. SQLite: the
  transaction is ``BEGIN EXCLUSIVE``, SQLite's own database-wide write lock, which
  every process on the host honours, needs no file of its own and makes the upgrade
  atomic (SQLite's DDL is transactional); a waiter retries past the busy timeout.
- The terminal only calls :func:`read_state`: it never migrates.
"""

from __future__ import annotations

import functools
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from flameback_app.storage.db import _sqlite_pragmas, make_engine

VERSION_TABLE = "flameback_alembic_version"
SCRIPT_LOCATION = "flameback_app.storage:migrations"
BASELINE = "0001"
BASELINE_TABLES = ("model_registry", "pipeline_counters", "predictions", "scoreboard")
UPGRADE_COMMAND = "faust -A flameback_app db upgrade"
NO_SCHEMA = "no Flameback schema"
# pg_advisory_xact_lock key: any constant 64-bit integer, the same for every Flameback process.
PG_LOCK_KEY = int.from_bytes(b"flameMig", "big") & 0x7FFF_FFFF_FFFF_FFFF
SQLITE_LOCK_RETRY_S = 0.5


class SchemaError(RuntimeError):
    """This database's schema cannot be used or upgraded here; the message is one line that says what to do."""


@dataclass(frozen=True)
class SchemaState:
    """What a database holds, read without changing it."""

    revision: str | None  # from the version table; None without one
    legacy: bool  # the pre-migration create_all schema: baseline tables, no version table
    head: str  # the newest revision this code knows
    known: bool  # revision is one of this code's revisions (or None)

    @property
    def effective(self) -> str | None:
        """The revision the tables are at: the baseline for a pre-migration database."""
        return BASELINE if self.legacy else self.revision

    @property
    def current(self) -> bool:
        return self.revision == self.head

    def describe(self) -> str:
        if self.legacy:
            return "the pre-migration schema (unversioned)"
        if self.revision is None:
            return NO_SCHEMA
        if self.current:
            return f"schema revision {self.revision} (head)"
        return f"schema revision {self.revision} ({'older than' if self.known else 'unknown to'} this release)"


@dataclass(frozen=True)
class UpgradeResult:
    before: str  # SchemaState.describe() before
    after: str | None  # revision after
    migrated: bool  # this process changed the schema
    waited_s: float  # time spent waiting for another process's migration lock

    def describe(self) -> str:
        if not self.migrated:
            return f"database schema at revision {self.after} (head); nothing to upgrade"
        if self.before == NO_SCHEMA:
            return f"database schema created at revision {self.after} (head)"
        return f"database schema upgraded from {self.before} to revision {self.after} (head)"


def alembic_config(script_location: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config without an ini file: the package's (or the given) migrations, on ``connection``."""
    config = Config()
    config.set_main_option("script_location", script_location or SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts(script_location: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(script_location))


def scripts(script_location: str | None = None) -> ScriptDirectory:
    return _scripts(script_location or SCRIPT_LOCATION)


def head_revision(script_location: str | None = None) -> str:
    head = scripts(script_location).get_current_head()
    if head is None:  # pragma: no cover - the package always ships the baseline
        raise SchemaError("no schema revisions found")
    return head


def read_state(connection: Connection, script_location: str | None = None) -> SchemaState:
    """The database's schema state (reads only: safe on a read-only connection)."""
    head = head_revision(script_location)
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    revision = context.get_current_revision()
    legacy = False
    if revision is None:
        present = [t for t in BASELINE_TABLES if inspect(connection).has_table(t)]
        if present and len(present) < len(BASELINE_TABLES):
            missing = sorted(set(BASELINE_TABLES) - set(present))
            raise SchemaError(
                f"the database has the Flameback tables {', '.join(present)} but not "
                f"{', '.join(missing)}, and no {VERSION_TABLE} table: not a schema this release "
                "knows how to upgrade; restore it or point FLAMEBACK_DB_URL at a new database"
            )
        legacy = bool(present)
    known = revision is None or _is_known(revision, script_location)
    return SchemaState(revision=revision, legacy=legacy, head=head, known=known)


def _is_known(revision: str, script_location: str | None) -> bool:
    try:
        return scripts(script_location).get_revision(revision) is not None
    except (RevisionError, CommandError):  # an id this release does not have
        return False


def schema_state(engine: Engine, script_location: str | None = None) -> SchemaState:
    with engine.connect() as conn:
        return read_state(conn, script_location)


def prepare(
    engine: Engine,
    auto_upgrade: bool = True,
    script_location: str | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> UpgradeResult:
    """Make sure the database is at the newest revision before a worker uses it.

    Current: nothing is locked or written (a read-only database at head works).
    Older: upgraded under the migration lock, or, when ``auto_upgrade`` is off,
    :class:`SchemaError` naming the command that upgrades it. Newer than this code:
    :class:`SchemaError` (never guess at a schema written by a later release).
    """
    state = schema_state(engine, script_location)
    if state.current:
        return UpgradeResult(state.describe(), state.revision, migrated=False, waited_s=0.0)
    _refuse_unknown(state, engine)
    if not auto_upgrade:
        raise SchemaError(
            f"the database {redacted(engine)} has {state.describe()}; this worker needs schema "
            f"revision {state.head}: upgrade it with `{UPGRADE_COMMAND}` "
            "(or set FLAMEBACK_DB_AUTO_UPGRADE=true)"
        )
    return upgrade(engine, script_location, on_wait)


def upgrade(
    engine: Engine, script_location: str | None = None, on_wait: Callable[[str], None] | None = None
) -> UpgradeResult:
    """Upgrade to the newest revision in one transaction holding the migration lock (idempotent)."""
    with _migration_transaction(engine, on_wait) as (conn, waited):
        state = read_state(conn, script_location)  # again, under the lock: another process may have migrated
        _refuse_unknown(state, engine)
        if state.current:
            return UpgradeResult(state.describe(), state.revision, migrated=False, waited_s=waited)
        config = alembic_config(script_location, conn)
        if state.legacy:
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        return UpgradeResult(state.describe(), state.head, migrated=True, waited_s=waited)


def _refuse_unknown(state: SchemaState, engine: Engine) -> None:
    if not state.known:
        raise SchemaError(
            f"the database {redacted(engine)} is at schema revision {state.revision}, which this "
            f"release does not know (newest here: {state.head}); a newer Flameback wrote it: "
            "run that release, or restore a backup"
        )


@contextmanager
def _migration_transaction(engine: Engine, on_wait: Callable[[str], None] | None) -> Iterator[tuple[Connection, float]]:
    """A transaction that holds the migration lock from its start to its commit."""
    started = time.monotonic()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, conn.begin():
            if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY}).scalar():
                _say(on_wait, "another process is upgrading the database schema; waiting for it")
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
            yield conn, time.monotonic() - started
    elif engine.dialect.name == "sqlite":
        exclusive = _sqlite_exclusive_engine(engine)
        try:
            conn = _begin_exclusive(exclusive, on_wait)
            try:
                yield conn, time.monotonic() - started
                conn.commit()
            finally:
                conn.close()
        finally:
            exclusive.dispose()
    else:  # other dialects: Alembic's own transaction, no cross-process lock
        with engine.connect() as conn, conn.begin():
            yield conn, 0.0


def _sqlite_exclusive_engine(engine: Engine) -> Engine:
    """The same SQLite file, with transactions that start ``BEGIN EXCLUSIVE`` (pysqlite's own BEGIN is off)."""
    exclusive = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(exclusive, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, record)
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (SQLAlchemy's pysqlite recipe)

    @event.listens_for(exclusive, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN EXCLUSIVE")

    return exclusive


def _begin_exclusive(exclusive: Engine, on_wait: Callable[[str], None] | None) -> Connection:
    """Connect and take the exclusive lock, retrying after each busy timeout for as long as it is held."""
    told = False
    while True:
        conn = exclusive.connect()
        try:
            conn.begin()
            return conn
        except OperationalError as exc:
            conn.close()
            if "locked" not in str(exc.orig).lower() and "busy" not in str(exc.orig).lower():
                raise
            if not told:
                _say(on_wait, "the database is locked (another process is upgrading its schema?); waiting for it")
                told = True
            time.sleep(SQLITE_LOCK_RETRY_S)


def _say(on_wait: Callable[[str], None] | None, message: str) -> None:
    if on_wait is not None:
        on_wait(message)


def redacted(engine_or_url: Engine | str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy import make_url

    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.render_as_string(hide_password=True)


# ---------------------------------------------------------------- developers: new revisions


def next_revision_id(script_location: str | None = None) -> str:
    """``0002`` after ``0001``: revision ids are sequence numbers, so the files sort in order."""
    numbers = [int(s.revision) for s in scripts(script_location).walk_revisions() if s.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def new_revision(message: str, script_location: str | None = None) -> Path:
    """Write a revision autogenerated from the difference between ``flameback_app.storage.db`` and head.

    Compared against a throwaway SQLite database upgraded to head, so no database is
    needed; review the file (types, server defaults, data moves) before committing.
    """
    if not re.search(r"\w", message):
        raise SchemaError("a revision needs a message saying what it changes (-m)")
    with tempfile.TemporaryDirectory(prefix="flameback-revision-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'head.db'}")
        try:
            upgrade(engine, script_location)
            with engine.begin() as conn:
                script = command.revision(
                    alembic_config(script_location, conn),
                    message=message,
                    autogenerate=True,
                    rev_id=next_revision_id(script_location),
                )
        finally:
            engine.dispose()
    _scripts.cache_clear()
    if script is None or isinstance(script, list):  # pragma: no cover - one head, one script
        raise SchemaError("alembic wrote no revision")
    return Path(script.path)
