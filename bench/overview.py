"""Benchmark of one market-overview refresh on a 1,000,000-row database, beside a naive query in the same run.

Builds (once; reused from /tmp while its row and symbol counts match) a SQLite file of
``rows`` prediction rows spread over ``symbols`` symbols, one tick a minute per
symbol, interleaved in time as a live feed writes them. The rows are bulk-inserted
with ``executemany`` on one transaction (seconds for a million rows): the overview
reads price, RSI and the nine signal columns only, so indicators that it does not show
are left empty rather than computed. The schema comes from the package's migrations.

Then times :func:`dashboard.callbacks.overview_update` — the whole refresh: three
reads (per symbol: newest row and the one before it, price at the window's start,
scoreboard) and the table rows — against the naive way: a ``ROW_NUMBER() OVER
(PARTITION BY symbol ...)`` pass over every row for the newest two, another for the
window's price, turned into the same table rows. Both on the same database and run.

    .venv/bin/python -m bench.overview [--rows 1000000] [--symbols 39,1000] [--reps 30]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.dashboard import fresh_database
from dashboard import overview, queries
from dashboard.callbacks import Source, overview_update
from flameback_app.storage.db import (
    MODEL_COLUMNS,
    PROBABILITY_COLUMNS,
    RULE_COLUMNS,
    upsert_scoreboard,
)
from tests.support.seed import scoreboard_rows

TARGETS_MS = {39: 200.0, 1000: 500.0}
NAIVE_REPS = 2  # seconds each on a million rows; more would make the run take minutes
END = datetime(2026, 11, 30, 16, 0)
LOADED_COLUMNS = (
    "symbol",
    "timestamp",
    "seq",
    "current_price",
    "processing_time",
    "rsi_14",
    "price_change_pct",
    *MODEL_COLUMNS,
    *PROBABILITY_COLUMNS,
    *RULE_COLUMNS,
    "model_version",
)
NAIVE_LATEST = text(
    "SELECT * FROM (SELECT p.*, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY timestamp DESC, seq DESC) AS rn"
    " FROM predictions p) t WHERE rn <= 2 ORDER BY symbol, rn"
)
NAIVE_PRICES_AT = text(
    "SELECT symbol, current_price FROM (SELECT symbol, current_price, ROW_NUMBER() OVER"
    " (PARTITION BY symbol ORDER BY timestamp DESC, seq DESC) AS rn FROM predictions WHERE timestamp <= :cut) t"
    " WHERE rn = 1"
)


def bench_symbols(n: int) -> list[str]:
    return [f"S{k:04d} Comdty" for k in range(n)]


def _stamp(moment: datetime) -> str:
    """SQLAlchemy's SQLite text form of a DateTime (what the worker's writes store)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _rows(names: list[str], per_symbol: int, seed: int) -> list[tuple[Any, ...]]:
    """Every row, oldest minute first and symbols interleaved within a minute (as a live feed writes)."""
    rng = random.Random(seed)
    prices = [10.0 * (1.5 ** (k % 12)) for k in range(len(names))]
    calls = ("UP", "DOWN")
    out = []
    for minute in range(per_symbol):
        stamp = _stamp(END - timedelta(minutes=per_symbol - 1 - minute))
        for k, name in enumerate(names):
            prices[k] *= 1.0 + rng.gauss(0.0, 0.001)
            p_ups = [rng.random() for _ in MODEL_COLUMNS]
            out.append(
                (
                    name,
                    stamp,
                    0,
                    prices[k],
                    stamp,
                    rng.uniform(15, 85),
                    rng.gauss(0, 0.1),
                    *(calls[p <= 0.5] for p in p_ups),
                    *p_ups,
                    *(rng.choice(calls) for _ in RULE_COLUMNS),
                    "bench",
                )
            )
    return out


def build_database(path: Path, rows: int, symbols: int) -> str:
    """The benchmark database (reused when it already holds ``rows`` rows of ``symbols`` symbols)."""
    url = f"sqlite:///{path}"
    if path.exists() and _counts(path) == (rows, symbols):
        return url
    engine = fresh_database(path)
    names = bench_symbols(symbols)
    upsert_scoreboard(engine, scoreboard_rows(names))
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    marks = ", ".join("?" * len(LOADED_COLUMNS))
    columns = ", ".join(f'"{c}"' for c in LOADED_COLUMNS)
    with conn:
        conn.executemany(
            f"INSERT INTO predictions ({columns}) VALUES ({marks})",  # noqa: S608 - our column names; values bound
            _rows(names, rows // symbols, 0),
        )
    conn.execute("ANALYZE")
    conn.close()
    return url


def _counts(path: Path) -> tuple[int, int] | None:
    try:
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            symbols = conn.execute("SELECT COUNT(*) FROM (SELECT DISTINCT symbol FROM predictions)").fetchone()[0]
    except sqlite3.Error:
        return None
    return rows, symbols


def naive_refresh(source: Source, window: str) -> list[dict[str, Any]]:
    """The same table rows from whole-table window-function passes (what a first version would write)."""
    with source.engine.connect() as conn:
        ranked = [dict(r._mapping) for r in conn.execute(NAIVE_LATEST)]
        latest = [r for r in ranked if r["rn"] == 1]
        prev = {r["symbol"]: r["current_price"] for r in ranked if r["rn"] == 2}
        for row in latest:
            row["prev_price"] = prev.get(row["symbol"])
        cut = overview.window_cut(latest, window)
        prices = dict(conn.execute(NAIVE_PRICES_AT, {"cut": cut}).all())
    rates = queries.recent_hit_rates(source.engine)
    return overview.overview_rows(latest, prices, rates, source.sheet, overview.utc_now_naive())


def timed(fn: Callable[[], Any], reps: int, warm_up: bool = True) -> tuple[float, float, Any]:
    """(median ms, p95 ms, last result) over ``reps`` calls (after one warm-up call unless told not to)."""
    if warm_up:
        fn()
    samples, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))], result


def run_one(rows: int, symbols: int, reps: int, window: str = overview.DEFAULT_WINDOW) -> dict[str, Any]:
    """One database size: the overview refresh and the naive baseline, checked to give the same table."""
    path = Path(tempfile.gettempdir()) / f"flameback-bench-overview-{rows}-{symbols}.db"
    started = time.perf_counter()
    url = build_database(path, rows, symbols)
    build_s = time.perf_counter() - started
    source = Source(url, queries.reader_engine(url), {})
    median, p95, (table, _columns) = timed(lambda: overview_update(source, window), reps)
    b_median, _b_p95, naive = timed(lambda: naive_refresh(source, window), NAIVE_REPS, warm_up=False)
    source.engine.dispose()
    if _comparable(table) != _comparable(naive) or len(table) != symbols:
        raise AssertionError("the overview and the naive query disagree")
    return {
        "symbols": symbols,
        "rows": rows,
        "median_ms": median,
        "p95_ms": p95,
        "naive_ms": b_median,
        "ratio": b_median / median,
        "bytes": len(json.dumps(table)),
        "target_ms": TARGETS_MS.get(symbols),
        "build_s": build_s,
    }


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in r.items() if k != "age"} for r in rows), key=lambda r: r["id"])


def run(rows: int = 1_000_000, symbols: tuple[int, ...] = (39, 1000), reps: int = 30) -> list[dict[str, Any]]:
    return [run_one(rows, n, reps) for n in symbols]


def table_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``python -m bench``'s table: median ms of one overview refresh beside the naive query's."""
    return [
        {
            "name": f"overview refresh, {r['symbols']} symbols, {r['rows']:,} rows",
            "figure": r["median_ms"],
            "baseline": r["naive_ms"],
            "unit": "ms",
            "better": "lower",
        }
        for r in results
    ]


def print_table(results: list[dict[str, Any]]) -> None:
    print("market overview refresh (server side: reads + table rows), SQLite")
    print(
        f"{'symbols':>7} {'rows':>10} {'median ms':>9} {'p95 ms':>8} {'target':>7} {'naive ms':>9} {'ratio':>7} "
        f"{'bytes':>9} {'build s':>7}"
    )
    for r in results:
        print(
            f"{r['symbols']:>7} {r['rows']:>10,} {r['median_ms']:9.1f} {r['p95_ms']:8.1f} {r['target_ms'] or 0:7.0f} "
            f"{r['naive_ms']:9.1f} {r['ratio']:6.1f}x {r['bytes']:9,} {r['build_s']:7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--symbols", default="39,1000", help="comma-separated symbol counts, one database each")
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    print_table(run(args.rows, tuple(int(n) for n in args.symbols.split(",")), args.reps))


if __name__ == "__main__":
    main()
