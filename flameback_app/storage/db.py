"""The database schema and the writes the worker makes (SQLAlchemy 2 Core).

Reads: nothing but its arguments. Writes: ``predictions`` (one row per processed
tick, idempotent on (symbol, timestamp, seq)), ``model_signals`` (the user's models'
calls, one row per tick and model), ``scoreboard`` (live hit rates),
``pipeline_counters`` (health figures the dashboard shows), ``model_registry``, ``feature_drift`` and
``model_decisions`` (every champion/challenger decision, promotion and rollback).

SQLite is the default (WAL so the dashboard can read while the worker writes, a
busy timeout so short lock waits are absorbed); PostgreSQL (``postgresql+psycopg://``)
is tested alongside it. Every write retries on a locked database with backoff, so a
reader holding a lock for a few seconds delays rows but never loses them.

The tables below are the models; the database gets them from the Alembic revisions
in ``flameback_app/migrations`` (:mod:`flameback_app.storage.schema`, which imports this module, never the reverse). Change a table here
and add a revision (``faust -A flameback_app db revision -m ...``): a test fails when
the two disagree.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    insert,
    make_url,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.expression import Executable, Insert
from tenacity import before_sleep_log, retry, retry_if_exception, stop_after_delay, wait_exponential

from flameback_app.core.records import utc_now
from flameback_app.core.ta import FEATURE_FIELDS
from models.columns import (  # noqa: F401 - re-exported: callers look the schema's names up here
    ALL_SYMBOLS,
    MODEL_COLUMNS,
    PROBABILITY_COLUMNS,
    RULE_COLUMNS,
    SIGNAL_COLUMNS,
)

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

# Column names come from their owners: the indicator engine's output order (README, "Indicators")
# and the signal names of the models package (kept import-free so models/ runs offline).
FEATURE_COLUMNS: tuple[str, ...] = FEATURE_FIELDS

metadata = MetaData()

predictions = Table(
    "predictions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("symbol", String(64), nullable=False),
    Column("timestamp", DateTime, nullable=False),
    Column("current_price", Float, nullable=False),
    Column("processing_time", DateTime, nullable=False, doc="When the worker computed the row (UTC)."),
    *(Column(name, Float) for name in FEATURE_COLUMNS),
    *(Column(name, String(16)) for name in SIGNAL_COLUMNS),
    *(Column(name, Float) for name in PROBABILITY_COLUMNS),
    Column("model_version", String(64)),
    Column("ingest_time", DateTime, doc="Kafka timestamp of the tick on futures-ticks (UTC)."),
    Column("latency_ms", Float, doc="ingest_time → row handed to the database, milliseconds."),
    # NOT NULL with a default, not nullable: SQLite and PostgreSQL treat NULLs in a unique key as
    # distinct, so a nullable seq would let a redelivered tick without one duplicate its row.
    Column("seq", BigInteger, nullable=False, server_default="0", doc="Order within one timestamp; 0 if none."),
    Column("volume", Float, doc="Traded size of the tick, when the producer sent one."),
    UniqueConstraint("symbol", "timestamp", "seq", name="uq_predictions_symbol_timestamp_seq"),
)
Index("ix_predictions_symbol_timestamp", predictions.c.symbol, predictions.c.timestamp)
Index("ix_predictions_id_symbol", predictions.c.symbol, predictions.c.id)

# The user's own models (FLAMEBACK_USER_MODELS): one row per tick and model, keyed like the tick's predictions row.
# A long table, not columns: the models are named in a setting, so their set changes without a migration.
model_signals = Table(
    "model_signals",
    metadata,
    Column("symbol", String(64), primary_key=True),
    Column("timestamp", DateTime, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("model", String(32), primary_key=True),
    Column("call", String(16)),
    Column("p_up", Float),
    Column("model_version", String(64)),
)

scoreboard = Table(
    "scoreboard",
    metadata,
    Column("symbol", String(64), primary_key=True),
    Column("signal", String(32), primary_key=True),
    Column("n", Integer, nullable=False),
    Column("hits", Integer, nullable=False),
    Column("hit_rate", Float),
    Column("hit_rate_20", Float),
    Column("hit_rate_60", Float),
    Column("hit_rate_250", Float),
    Column("baseline_up_rate", Float, doc="Hit rate of always calling UP on the same ticks."),
    Column("updated_at", DateTime, nullable=False),
)

pipeline_counters = Table(
    "pipeline_counters",
    metadata,
    Column("worker", String(128), primary_key=True, server_default="", doc="FLAMEBACK_WORKER_ID of the writer."),
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

model_registry = Table(
    "model_registry",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("created", DateTime, nullable=False),
    Column("path", Text, nullable=False),
    Column("metrics_json", Text),
    Column("loaded_at", DateTime),
)

feature_drift = Table(
    "feature_drift",
    metadata,
    Column("symbol", String(64), primary_key=True, doc="A symbol, or '*' for all symbols pooled."),
    Column("feature", String(64), primary_key=True),
    Column(
        "psi", Float, nullable=False, doc="Population stability index of the live rows against the training sample."
    ),
    Column("flagged", Boolean, nullable=False, doc="psi above the threshold."),
    Column("threshold", Float, nullable=False),
    Column("live_rows", Integer, nullable=False),
    Column("sample_rows", Integer, nullable=False),
    Column("reference", String(8), nullable=False, doc="'symbol': against its own training rows; 'all': every row."),
    Column("model_version", String(64), nullable=False),
    Column("computed_at", DateTime, nullable=False),
)


alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("spec_json", Text, nullable=False, doc="One rule as JSON, the keys of a [[rule]] table in the rule file."),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("created_at", DateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_key", String(128), nullable=False, doc="file:<name> or terminal:<alert_rules.id>."),
    Column("rule_name", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("timestamp", DateTime, nullable=False, doc="The tick that fired it (UTC)."),
    Column("seq", BigInteger, nullable=False, server_default="0"),
    Column("fired_at", DateTime, nullable=False, doc="When the worker fired it (UTC)."),
    Column("message", Text, nullable=False),
    Column("details_json", Text),
    # A redelivered tick fires the same alert again after a restart: stored once.
    UniqueConstraint("rule_key", "symbol", "timestamp", "seq", name="uq_alerts_rule_symbol_tick"),
)

model_decisions = Table(
    "model_decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("decided_at", DateTime, nullable=False),
    Column("version", String(64), nullable=False, doc="The challenger, or the version promoted/restored by hand."),
    Column("champion", String(64), doc="The live version before the decision (none on a first run)."),
    Column("action", String(16), nullable=False, doc="promoted | rejected | first | manual | rollback"),
    Column("metric", String(16)),
    Column("challenger_score", Float),
    Column("champion_score", Float),
    Column("ci_low", Float, doc="Paired 95 % interval of challenger minus champion, over timestamps."),
    Column("ci_high", Float),
    Column("margin", Float),
    Column("n_rows", Integer, doc="Rows of the challenge block both versions were scored on."),
    Column("block_start", DateTime),
    Column("block_end", DateTime),
    Column("reason", Text, nullable=False),
)
Index("ix_model_decisions_decided_at", model_decisions.c.decided_at)


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite, make the parent directory, enable WAL and a busy timeout."""
    database = make_url(url).database
    if url.startswith("sqlite") and database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _error_text(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).lower()


def _is_transient(exc: BaseException) -> bool:
    """A locked/busy database is worth retrying here, briefly; the rest goes to the caller at once.

    A server that is down or a dropped connection is not retried here: the worker's
    write loop (``agents.predict``) retries the whole batch with backoff and reports the
    failure to ``/health/`` from the first attempt, which a silent 120 s retry down
    here would hide (the pool's pre-ping replaces dead connections on the next try).
    """
    if not isinstance(exc, OperationalError):
        return False
    return any(s in _error_text(exc) for s in ("locked", "busy"))


def _retrying(fn: Callable[P, T], transient: Callable[[BaseException], bool] = _is_transient) -> Callable[P, T]:
    return retry(
        retry=retry_if_exception(transient),
        wait=wait_exponential(multiplier=0.05, max=2.0),
        stop=stop_after_delay(120),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )(fn)


def _insert_ignoring_duplicates(engine: Engine, table: Table, index: Sequence[str]) -> Insert:
    """An INSERT that skips rows whose ``index`` columns already exist (dialect-specific)."""
    if engine.dialect.name == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(index))
    if engine.dialect.name == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing(index_elements=list(index))
    return insert(table)  # pragma: no cover - other dialects: plain insert, the unique constraint still guards


def _upsert(engine: Engine, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    keep = [c.name for c in table.columns if c.name not in keys]
    stmt: Executable
    if engine.dialect.name == "sqlite":
        lite = sqlite_insert(table)
        stmt = lite.on_conflict_do_update(index_elements=list(keys), set_={c: lite.excluded[c] for c in keep})
    else:
        pg = postgresql_insert(table)
        stmt = pg.on_conflict_do_update(index_elements=list(keys), set_={c: pg.excluded[c] for c in keep})
    with engine.begin() as conn:
        conn.execute(stmt, list(rows))


def insert_predictions(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert prediction rows (and their user models' ``model_signals`` rows) in one transaction; rows already
    present are skipped.

    Returns how many rows were new. Idempotence is what makes Kafka's
    at-least-once delivery effectively-once in the database.
    """
    if not rows:
        return 0
    insert_rows = _prediction_insert(engine)
    long_rows = user_model_rows(rows)

    def run() -> int:
        with engine.begin() as conn:
            written = insert_rows(conn, rows)
            if long_rows:
                conn.execute(_insert_ignoring_duplicates(engine, model_signals, MODEL_SIGNALS_KEY), long_rows)
            return written

    return _retrying(run)()


MODEL_SIGNALS_KEY = ("symbol", "timestamp", "seq", "model")


def user_model_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``model_signals`` rows for the user models a prediction row names (``user_models``) that made a call."""
    out = []
    for row in rows:
        for name in row.get("user_models") or ():
            if row.get(f"{name}_p_up") is not None:
                out.append(
                    {
                        "symbol": row["symbol"],
                        "timestamp": row["timestamp"],
                        "seq": row.get("seq") or 0,
                        "model": name,
                        "call": row.get(name),
                        "p_up": row[f"{name}_p_up"],
                        "model_version": row.get("model_version"),
                    }
                )
    return out


_INSERT_DEFAULTS = {"seq": 0}  # a driver-level insert skips server defaults for the columns it names


@functools.cache
def _prediction_insert(engine: Engine) -> Callable[[Any, Sequence[Mapping[str, Any]]], int]:
    """The ``predictions`` INSERT compiled once per engine, run as one driver-level executemany.

    SQLAlchemy re-processes every parameter of every row on each ``execute`` (a
    profile of the worker at full speed: ~23 % of its samples for 41 columns × 500
    rows, against 8 % in the driver itself). Here the statement is compiled once,
    only the columns whose type needs it get their dialect's bind processor (the
    datetimes: the stored text must stay exactly what SQLAlchemy writes, or the
    unique (symbol, timestamp, seq) key would see two spellings of one tick), and the rows
    go to the driver as plain tuples (or dicts for named paramstyles).
    """
    stmt = _insert_ignoring_duplicates(engine, predictions, ("symbol", "timestamp", "seq"))
    columns = [c for c in predictions.columns if c.name != "id"]
    compiled = stmt.compile(dialect=engine.dialect, column_keys=[c.name for c in columns])
    positions = compiled.positiontup
    positional = positions is not None
    order = list(positions) if positions is not None else [c.name for c in columns]
    types = {c.name: c.type.dialect_impl(engine.dialect) for c in columns}
    convert = [(i, fn) for i, name in enumerate(order) if (fn := types[name].bind_processor(engine.dialect))]

    def values(row: Mapping[str, Any]) -> list[Any]:
        out = [row.get(name, _INSERT_DEFAULTS.get(name)) for name in order]
        for i, fn in convert:
            if out[i] is not None:
                out[i] = fn(out[i])
        return out

    def insert_rows(conn: Any, rows: Sequence[Mapping[str, Any]]) -> int:
        params = [tuple(values(r)) for r in rows] if positional else [dict(zip(order, values(r))) for r in rows]
        result = conn.exec_driver_sql(compiled.string, params)
        return max(result.rowcount or 0, 0)

    return insert_rows


def upsert_scoreboard(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace the scoreboard rows for the given (symbol, signal) pairs."""
    if rows:
        _retrying(_upsert)(engine, scoreboard, rows, ("symbol", "signal"))


def write_counters(engine: Engine, counters: Mapping[str, float], now: datetime, worker: str = "") -> None:
    """Store one worker's pipeline counters (a row per (worker, name)) for the dashboard's health panel."""
    rows = [{"worker": worker, "name": k, "value": float(v), "updated_at": now} for k, v in counters.items()]
    if rows:
        _retrying(_upsert)(engine, pipeline_counters, rows, ("worker", "name"))


def count_complete_rows(engine: Engine) -> int:
    """Rows whose every indicator is warmed up (MACD's signal is the last to be): what training can use."""
    stmt = select(func.count()).select_from(predictions).where(predictions.c.macd_signal.is_not(None))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def register_model(engine: Engine, version: str, created: datetime, path: str, metrics_json: str) -> None:
    """Record that a model version was loaded by a worker (for the terminal and audits)."""
    created = created.astimezone(UTC).replace(tzinfo=None) if created.tzinfo else created
    row = {"version": version, "created": created, "path": path, "metrics_json": metrics_json, "loaded_at": utc_now()}
    _retrying(_upsert)(engine, model_registry, [row], ("version",))


def replace_drift(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> None:
    """Make ``feature_drift`` the newest check: its rows upserted, rows of symbols it no longer has deleted.

    An upsert rather than delete-then-insert: two workers sharing a database both run the
    check, and on PostgreSQL the second's inserts would collide with the first's rows.
    """
    symbols = sorted({row["symbol"] for row in rows})

    def run() -> None:
        with engine.begin() as conn:
            conn.execute(delete(feature_drift).where(feature_drift.c.symbol.not_in(symbols)))
        if rows:
            _upsert(engine, feature_drift, rows, ("symbol", "feature"))

    _retrying(run)()


def insert_alerts(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> int:
    """Store fired alerts (one transaction); an alert already stored for the same rule and tick is skipped."""
    if not rows:
        return 0

    def run() -> int:
        stmt = _insert_ignoring_duplicates(engine, alerts, ("rule_key", "symbol", "timestamp", "seq"))
        with engine.begin() as conn:
            return max(conn.execute(stmt, list(rows)).rowcount or 0, 0)

    return _retrying(run)()


def enabled_alert_rules(engine: Engine) -> list[tuple[int, str]]:
    """(id, spec_json) of the rules added in the terminal and still enabled, oldest first."""
    stmt = select(alert_rules.c.id, alert_rules.c.spec_json).where(alert_rules.c.enabled.is_(True))
    with engine.connect() as conn:
        return [(int(i), spec) for i, spec in conn.execute(stmt.order_by(alert_rules.c.id))]


def record_decision(engine: Engine, row: Mapping[str, Any]) -> None:
    """Append one champion/challenger decision (:meth:`models.champion.Decision.row`): the audit trail of what went live."""
    _retrying(_insert_rows)(engine, model_decisions, [dict(row)])


def _insert_rows(engine: Engine, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(table), list(rows))


def recent_decisions(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The newest decisions first (for the terminal and ``models list``)."""
    stmt = select(model_decisions).order_by(model_decisions.c.decided_at.desc(), model_decisions.c.id.desc())
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt.limit(limit))]
