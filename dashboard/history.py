"""A symbol's history for the linked chart: a time range, read as at most ``max_bars`` bars, bucketed in SQL.

Why in SQL: range = All on a million-row database is tens of thousands of rows per
symbol; sending them to Python (let alone to the browser) costs more than the
target allows. The database groups the range's rows into equal time buckets and
returns one row per bucket: open (first tick), high, low, close (last tick), summed
volume, the indicators as of the bucket's last tick, and per signal how many UP and
DOWN calls it made and how many of them were right. When the range holds no more
rows than ``max_bars``, every row is its own bucket: the same query, drawn tick by
tick.

"Right" is the scoreboard's definition (:data:`models.scoreboard.RIGHT_WHEN`): a call
is compared with the next tick's price; the newest tick's calls are not scored yet.
The range ends at the symbol's newest tick (not the wall clock: replayed data stays
in view). Reads ride the (symbol, timestamp) index: one seek for the newest tick,
one covering range scan to count, one range scan for the bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Engine, bindparam, func, select, text

from flameback_app.storage.db import MODEL_COLUMNS, SIGNAL_COLUMNS, predictions
from models.scoreboard import RIGHT_WHEN

RANGES: dict[str, timedelta | None] = {
    "1M": timedelta(days=30),
    "3M": timedelta(days=91),
    "1Y": timedelta(days=365),
    "All": None,
}
DEFAULT_RANGE = "3M"
# Bar sizes a trader can choose; "auto" draws every tick up to MAX_BARS, else the fewest buckets that fit.
BAR_SIZES: dict[str, float | None] = {"auto": None, "1h": 3600.0, "1D": 86400.0, "1W": 7 * 86400.0, "1M": 30 * 86400.0}
DEFAULT_BAR = "auto"
MAX_BARS = 800  # about one bar per two screen pixels of a 1,600-pixel-wide chart
BAR_COLUMNS = (
    "timestamp",
    "sma_10",
    "sma_20",
    "ema_12",
    "ema_26",
    "bb_upper",
    "bb_lower",
    "rsi_14",
    "macd_line",
    "macd_signal",
    "macd_histogram",
    *(f"{m}_p_up" for m in MODEL_COLUMNS),
    *SIGNAL_COLUMNS,
)


@dataclass(frozen=True)
class Window:
    """The part of a symbol's history a range covers: from ``start`` (None: all), ``rows`` rows in it."""

    symbol: str
    start: datetime | None
    first: datetime | None
    last: datetime | None
    rows: int


def window(engine: Engine, symbol: str, range_name: str) -> Window:
    """Where the range starts (its length back from the symbol's newest tick) and how many rows it holds."""
    col = predictions.c
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(col.timestamp)).where(col.symbol == symbol)).scalar()
        span = RANGES.get(range_name)
        start = newest - span if newest is not None and span is not None else None
        where = [col.symbol == symbol, *([col.timestamp >= start] if start is not None else [])]
        rows, first = conn.execute(select(func.count(), func.min(col.timestamp)).where(*where)).one()
    return Window(symbol, start, first, newest, rows)


def bucket_seconds(win: Window, max_bars: int, chosen: float | None = None) -> float | None:
    """The bucket width: ``chosen`` (a bar size the user picked), widened when the range would need more than
    ``max_bars`` bars of it; without a choice, None (every tick drawn) while the range holds few enough rows."""
    if win.first is None or win.last is None:
        return None
    fitting = max((win.last - win.first).total_seconds() / max_bars, 1e-3) * 1.0001  # the newest tick in the last bar
    if chosen is not None:
        return max(chosen, fitting)
    return None if win.rows <= max_bars else fitting


def _bucket_key(dialect: str, width: float | None) -> str:
    if width is None:
        return "id"
    if dialect == "sqlite":
        return 'CAST((julianday("timestamp") - julianday(:first)) * 86400.0 / :width AS INTEGER)'
    return 'FLOOR(EXTRACT(EPOCH FROM ("timestamp" - :first)) / :width)'


def _signal_sums(name: str) -> str:
    """Per bucket: the signal's UP calls, DOWN calls, calls scored (a next tick exists) and calls right."""
    right = " ".join(f"WHEN '{call}' THEN right_{call.lower()}" for call in RIGHT_WHEN)
    return (
        f'COUNT(CASE WHEN "{name}" = \'UP\' THEN 1 END) AS "{name}__up", '
        f'COUNT(CASE WHEN "{name}" = \'DOWN\' THEN 1 END) AS "{name}__down", '
        f"COUNT(CASE WHEN \"{name}\" IN ('UP', 'DOWN') THEN next_price END) AS \"{name}__scored\", "
        f'SUM(CASE "{name}" {right} ELSE 0 END) AS "{name}__right"'
    )


def bars_sql(dialect: str, width: float | None, since: bool, signals: tuple[str, ...]) -> Any:
    """The bucketing query (column names are this module's constants; every value is a bound parameter).

    Each tick's outcome is computed once per call (``right_up``, ``right_down``: 1 when the
    next tick moved that way, 0 otherwise and for the newest tick), then summed per signal.
    """
    outcome = ", ".join(
        f"CASE WHEN next_price {op} price THEN 1 ELSE 0 END AS right_{call.lower()}" for call, op in RIGHT_WHEN.items()
    )
    picked = ", ".join(f'p."{name}"' for name in BAR_COLUMNS)
    sql = (
        "WITH t AS (SELECT id, current_price AS price, volume, " + _bucket_key(dialect, width) + " AS k, "  # noqa: S608 - our column names; values bound
        "LEAD(current_price) OVER (ORDER BY timestamp, seq) AS next_price, "
        + ", ".join(f'"{name}"' for name in signals)
        + " FROM predictions"
        " WHERE symbol = :symbol" + (" AND timestamp >= :start" if since else "") + "), "
        "r AS (SELECT t.*, " + outcome + " FROM t), "
        "b AS (SELECT k, MIN(id) AS first_id, MAX(id) AS last_id, MIN(price) AS low, MAX(price) AS high, "
        "SUM(volume) AS volume, COUNT(*) AS ticks, "
        + ", ".join(_signal_sums(n) for n in signals)
        + " FROM r GROUP BY k) "
        "SELECT b.*, o.current_price AS open, p.current_price AS close, "
        + picked
        + " FROM b JOIN predictions p ON p.id = b.last_id JOIN predictions o ON o.id = b.first_id ORDER BY b.k"
    )
    typed = [bindparam("start", type_=DateTime)] if since else []
    if width is not None:
        typed.append(bindparam("first", type_=DateTime))
    return text(sql).bindparams(*typed)


def bars(
    engine: Engine,
    win: Window,
    max_bars: int = MAX_BARS,
    signals: tuple[str, ...] = SIGNAL_COLUMNS,
    bar_size: float | None = None,
) -> tuple[list[dict[str, Any]], float | None]:
    """(bars oldest first, bucket width in seconds or None when every tick is its own bar).

    Only ``signals`` are scored: each costs four sums over every row of the range.
    ``bar_size``: the width the user chose (seconds), None for automatic.
    """
    if not win.rows:
        return [], None
    width = bucket_seconds(win, max_bars, bar_size)
    stmt = bars_sql(engine.dialect.name, width, win.start is not None, signals)
    params: dict[str, Any] = {"symbol": win.symbol}
    if win.start is not None:
        params["start"] = win.start
    if width is not None:
        params.update(first=win.first, width=width)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt, params)], width


def naive_rows(engine: Engine, symbol: str) -> list[dict[str, Any]]:
    """Every row of the symbol with every chart column: the first version's way to show range = All (benchmark)."""
    stmt = (
        select(predictions).where(predictions.c.symbol == symbol).order_by(predictions.c.timestamp, predictions.c.seq)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]
