"""Every read the terminal makes (parameterised SQLAlchemy Core; the terminal never writes).

Reads ``predictions`` through its (symbol, timestamp) and (symbol, id) indexes only,
so a refresh costs a few index seeks whatever the table's size: the symbol list by an
index skip-scan (one seek per symbol), a symbol's newest rows by a descending range on
(symbol, id), rows newer than the page's cursor by ``id >`` on the same index. Also the
small ``scoreboard`` and ``pipeline_counters`` tables. Writes nothing and never
migrates: SQLite connections are opened ``query_only`` with a short busy timeout,
PostgreSQL sessions read-only with a statement timeout, and a missing SQLite file is
reported instead of created. :class:`SchemaGate` tells when the database's schema is
older than this code's (the page says so; a worker or ``db upgrade`` upgrades it).
The symbol list's skip-scan is a recursive CTE both SQLite and PostgreSQL run as one
index seek per symbol.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from flameback_app.storage.db import ALL_SYMBOLS, pipeline_counters, predictions, scoreboard
from flameback_app.storage.schema import SchemaState, read_state

READ_BUSY_TIMEOUT_MS = 200  # well under a refresh: a locked file answers 'busy' before the next tick
READ_STATEMENT_TIMEOUT_MS = 2000  # PostgreSQL: a read queued behind a migration's table lock gives up in time

CHART_COLUMNS: tuple[str, ...] = (
    "id",
    "symbol",
    "timestamp",
    "current_price",
    "sma_5",
    "sma_10",
    "sma_20",
    "ema_12",
    "ema_26",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "rsi_14",
    "macd_line",
    "macd_signal",
    "macd_histogram",
    "volatility_20",
    "momentum_10",
    "price_change_pct",
    "XGBoost",
    "RandomForest",
    "AdaBoost",
    "LogisticReg",
    "XGBoost_p_up",
    "RandomForest_p_up",
    "AdaBoost_p_up",
    "LogisticReg_p_up",
    "RSI_Rule",
    "MACD_Rule",
    "Momentum_Rule",
    "PriceChange_Rule",
    "BB_Rule",
    "model_version",
    "seq",
    "volume",
)

# One index seek per distinct symbol instead of reading every index entry (SELECT DISTINCT).
SYMBOLS_CTE = (
    "WITH RECURSIVE s(x) AS ("
    " SELECT (SELECT MIN(symbol) FROM predictions)"
    " UNION ALL SELECT (SELECT MIN(symbol) FROM predictions WHERE symbol > s.x) FROM s WHERE s.x IS NOT NULL)"
)
SYMBOLS_SKIP_SCAN = text(SYMBOLS_CTE + " SELECT x FROM s WHERE x IS NOT NULL")  # noqa: S608 - constants only


class DatabaseMissing(RuntimeError):
    """The SQLite file does not exist (the worker creates it; the terminal never does)."""


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def reader_engine(url: str) -> Engine:
    """An engine for reads only: read-only connections that give up on a lock quickly (SQLite, PostgreSQL)."""
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_reader_pragmas)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_reader_session)
    return engine


def _postgres_reader_session(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        cursor.execute(f"SET statement_timeout = {READ_STATEMENT_TIMEOUT_MS}")
    dbapi_connection.commit()


def _sqlite_reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA query_only=1")
    cursor.close()


class SchemaGate:
    """Whether the database's schema is older than this terminal's; checked until it is current, then never.

    A database at this code's head (or the pre-migration schema when head is the
    baseline it equals, or a newer revision: added columns do not break these reads)
    is remembered as current. An empty database is not judged: the reads say so.
    """

    def __init__(self, script_location: str | None = None) -> None:
        self.script_location = script_location  # the revisions this code reads (tests pass their own)
        self.current = False

    def older(self, engine: Engine) -> SchemaState | None:
        """The database's state when it is older than this code's head, else None."""
        if self.current:
            return None
        with engine.connect() as conn:
            state = read_state(conn, self.script_location)
        if state.effective is None:
            return None
        if state.effective == state.head or not state.known:
            self.current = True
            return None
        return state


def check_exists(url: str) -> None:
    """Raise :class:`DatabaseMissing` rather than let SQLite create an empty file on connect."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise DatabaseMissing(str(path))


def symbols(engine: Engine) -> list[str]:
    """Every symbol with at least one row, sorted."""
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(SYMBOLS_SKIP_SCAN)]


def _chart_rows() -> Select:
    return select(*(predictions.c[name] for name in CHART_COLUMNS))


def latest_rows(engine: Engine, symbol: str, limit: int) -> list[dict[str, Any]]:
    """The symbol's newest ``limit`` rows, oldest first."""
    return rows_after(engine, symbol, 0, limit)


def rows_after(engine: Engine, symbol: str, after_id: int, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` rows of the symbol written after row ``after_id``, oldest first.

    Newest rather than oldest: after a long pause the page jumps to the present; when
    exactly ``limit`` rows come back the caller redraws instead of appending.
    """
    stmt = (
        _chart_rows()
        .where(predictions.c.symbol == symbol, predictions.c.id > after_id)
        .order_by(predictions.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(stmt)]
    return rows[::-1]


def latest_id(engine: Engine, symbol: str) -> int:
    """The symbol's newest row id (0 without rows): tells a replaced database from a quiet one."""
    stmt = select(func.max(predictions.c.id)).where(predictions.c.symbol == symbol)
    with engine.connect() as conn:
        return conn.execute(stmt).scalar() or 0


def hit_rates(engine: Engine, symbol: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Scoreboard rows of the symbol and of all symbols: ``{symbol: {signal: row}}``."""
    stmt = select(scoreboard).where(scoreboard.c.symbol.in_([symbol, ALL_SYMBOLS]))
    out: dict[str, dict[str, dict[str, Any]]] = {symbol: {}, ALL_SYMBOLS: {}}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            out[row.symbol][row.signal] = dict(row._mapping)
    return out


def counters(engine: Engine) -> dict[str, tuple[dict[str, float], datetime]]:
    """Every worker's pipeline counters: ``{worker: ({name: value}, when it last wrote them (UTC))}``."""
    with engine.connect() as conn:
        rows = conn.execute(select(pipeline_counters).order_by(pipeline_counters.c.worker)).all()
    out: dict[str, tuple[dict[str, float], datetime]] = {}
    for row in rows:
        figures, written = out.get(row.worker, ({}, row.updated_at))
        figures[row.name] = row.value
        out[row.worker] = (figures, max(written, row.updated_at))
    return out


# ---------------------------------------------------------------- the market overview
# Per symbol, a handful of seeks on the unique (symbol, timestamp, seq) index, driven by the
# symbol skip-scan: the newest row, the one before it and the last price at or before a cut.
# Correlated ``ORDER BY ... LIMIT`` subqueries are what both SQLite and PostgreSQL turn into
# one backward index seek each; a GROUP BY or window function would read every row instead.

_NEWEST = "SELECT id FROM predictions WHERE symbol = s.x ORDER BY timestamp DESC, seq DESC LIMIT 1"
OVERVIEW_COLUMNS: tuple[str, ...] = (
    "symbol",
    "timestamp",
    "current_price",
    "rsi_14",
    "XGBoost",
    "RandomForest",
    "AdaBoost",
    "LogisticReg",
    "RSI_Rule",
    "MACD_Rule",
    "Momentum_Rule",
    "PriceChange_Rule",
    "BB_Rule",
)

OVERVIEW_LATEST = text(
    SYMBOLS_CTE  # noqa: S608 - column names are our constants; every value is a bound parameter
    + " SELECT "
    + ", ".join(f"p.{name}" if name.islower() else f'p."{name}"' for name in OVERVIEW_COLUMNS)
    + ", prev.current_price AS prev_price FROM s"
    f" JOIN predictions p ON p.id = ({_NEWEST})"
    f" LEFT JOIN predictions prev ON prev.id = ({_NEWEST} OFFSET 1)"
    " WHERE s.x IS NOT NULL"
)

PRICES_AT = text(
    SYMBOLS_CTE  # noqa: S608 - constants only; the cut is a bound parameter
    + " SELECT s.x, (SELECT current_price FROM predictions WHERE symbol = s.x AND timestamp <= :cut"
    " ORDER BY timestamp DESC, seq DESC LIMIT 1) FROM s WHERE s.x IS NOT NULL"
)

NEWEST_TICK = text(
    SYMBOLS_CTE  # noqa: S608 - constants only
    + " SELECT MAX((SELECT MAX(timestamp) FROM predictions WHERE symbol = s.x)) FROM s WHERE s.x IS NOT NULL"
)


def overview_latest(engine: Engine) -> list[dict[str, Any]]:
    """Every symbol's newest row (the overview's columns) with the price of the tick before it (``prev_price``)."""
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(OVERVIEW_LATEST)]


def prices_at(engine: Engine, cut: datetime) -> dict[str, float]:
    """Each symbol's last price at or before ``cut`` (symbols without a tick by then are left out)."""
    with engine.connect() as conn:
        return {symbol: price for symbol, price in conn.execute(PRICES_AT, {"cut": cut}) if price is not None}


def newest_tick(engine: Engine) -> datetime | None:
    """The newest tick time over all symbols (two seeks per symbol; ``timestamp`` alone has no index)."""
    with engine.connect() as conn:
        value = conn.execute(NEWEST_TICK).scalar()
    return _as_datetime(value)


def _as_datetime(value: Any) -> datetime | None:
    """SQLite hands back an aggregate over a DateTime column as text; PostgreSQL as a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def recent_hit_rates(engine: Engine) -> dict[str, dict[str, dict[str, Any]]]:
    """Every symbol's scoreboard, the figures the overview shows: ``{symbol: {signal: {n, hit_rate_60, baseline}}}``."""
    stmt = select(
        scoreboard.c.symbol,
        scoreboard.c.signal,
        scoreboard.c.n,
        scoreboard.c.hit_rate_60,
        scoreboard.c.baseline_up_rate,
    ).where(scoreboard.c.symbol != ALL_SYMBOLS)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with engine.connect() as conn:
        for symbol, signal, n, rate_60, baseline in conn.execute(stmt):
            out.setdefault(symbol, {})[signal] = {"n": n, "hit_rate_60": rate_60, "baseline_up_rate": baseline}
    return out
