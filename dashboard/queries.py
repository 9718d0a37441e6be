"""Every read the terminal makes (parameterised SQLAlchemy Core; the terminal never writes).

Reads ``predictions`` through its (symbol, timestamp) and (symbol, id) indexes only:
the symbol list by an index skip-scan, a symbol's latest rows by a descending index
range, new rows by ``id`` greater than the last seen. Also ``scoreboard`` and
``pipeline_counters``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url

from flameback_app.db import ALL_SYMBOLS, pipeline_counters, predictions, scoreboard

CHART_COLUMNS = (
    "id", "symbol", "timestamp", "current_price", "sma_10", "sma_20", "bb_upper", "bb_middle", "bb_lower",
    "rsi_14", "macd_line", "macd_signal", "macd_histogram", "volatility_20", "momentum_10", "price_change_pct",
    "sma_5", "ema_12", "ema_26", "XGBoost", "RandomForest", "AdaBoost", "LogisticReg", "RSI_Rule", "MACD_Rule",
    "Momentum_Rule", "PriceChange_Rule", "BB_Rule", "model_version", "XGBoost_p_up", "RandomForest_p_up",
    "AdaBoost_p_up", "LogisticReg_p_up",
)  # fmt: skip

_SYMBOLS_SKIP_SCAN = text(
    "WITH RECURSIVE s(x) AS ("
    " SELECT (SELECT MIN(symbol) FROM predictions)"
    " UNION ALL SELECT (SELECT MIN(symbol) FROM predictions WHERE symbol > s.x) FROM s WHERE s.x IS NOT NULL)"
    " SELECT x FROM s WHERE x IS NOT NULL"
)


class DatabaseMissing(RuntimeError):
    """The database file does not exist (the worker has not run yet)."""


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def reader_engine(url: str) -> Engine:
    """An engine for reads; for SQLite a short busy timeout so a locked file answers quickly."""
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda conn, _rec: conn.execute("PRAGMA busy_timeout=500"))
    return engine


def check_exists(url: str) -> None:
    """Raise :class:`DatabaseMissing` instead of letting SQLite create an empty file."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise DatabaseMissing(str(path))


def symbols(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(_SYMBOLS_SKIP_SCAN)]


def _select_chart_columns():  # type: ignore[no-untyped-def]
    return select(*(predictions.c[c] for c in CHART_COLUMNS))


def latest_rows(engine: Engine, symbol: str, limit: int) -> list[dict[str, Any]]:
    """The symbol's newest ``limit`` rows, oldest first."""
    stmt = (_select_chart_columns().where(predictions.c.symbol == symbol)
            .order_by(predictions.c.timestamp.desc()).limit(limit))  # fmt: skip
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    return rows[::-1]


def rows_after(engine: Engine, symbol: str, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Rows of the symbol written after row ``after_id`` (at most ``limit``, oldest first)."""
    stmt = (_select_chart_columns().where(predictions.c.symbol == symbol, predictions.c.id > after_id)
            .order_by(predictions.c.id).limit(limit))  # fmt: skip
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def hit_rates(engine: Engine, symbol: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Scoreboard rows for the symbol and for all symbols: {symbol: {signal: row}}."""
    stmt = select(scoreboard).where(scoreboard.c.symbol.in_([symbol, ALL_SYMBOLS]))
    out: dict[str, dict[str, dict[str, Any]]] = {symbol: {}, ALL_SYMBOLS: {}}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            out[row.symbol][row.signal] = dict(row._mapping)
    return out


def counters(engine: Engine) -> dict[str, float]:
    with engine.connect() as conn:
        return {r.name: r.value for r in conn.execute(select(pipeline_counters))}
