"""Benchmark of the terminal's refresh callbacks on a 1,000,000-row database, with a same-run baseline.

Builds (once; reused from /tmp while its row count matches) a SQLite file with
``rows`` prediction rows over ``symbols`` symbols, written day by day through the
worker's own writer, indicators from the live engine. Then times, server side, the
functions behind each refresh callback (:mod:`dashboard.callbacks`) — median and p95
over many repetitions, rotating symbols — and the same work done the original
prototype's way: ``SELECT * ... WHERE symbol = ? ORDER BY processing_time DESC LIMIT``
into pandas and three ``go.Figure`` rebuilt on every refresh; ``SELECT DISTINCT`` for
the symbol list. Also reports each response's JSON size. Reads and writes only the
benchmark file.

    .venv/bin/python -m bench.dashboard [--rows 1000000] [--symbols 39] [--reps 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy import Engine, func, select

from dashboard import ids, queries
from dashboard.callbacks import NO_CURSOR, VIEW_OUTPUTS, Source, health_update, symbol_choices, view_update
from flameback_app.core.records import utc_now
from flameback_app.storage.db import insert_predictions, make_engine, predictions, upsert_scoreboard
from flameback_app.storage.db import write_counters as write_counter_rows
from flameback_app.storage.schema import upgrade
from tests.support.seed import counters, prediction_rows, scoreboard_rows

TARGET_MS = 200.0
DAYS_PER_CHUNK = 500


def bench_symbols(n: int) -> list[str]:
    return [f"B{k:02d} Comdty" for k in range(n)]


def fresh_database(path: Path) -> Engine:
    """An empty database at the newest schema in ``path`` (the file and its WAL/SHM siblings replaced)."""
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def build_database(path: Path, rows: int, symbols: int) -> str:
    """The benchmark database (reused when it already holds ``rows`` rows)."""
    url = f"sqlite:///{path}"
    if path.exists() and _row_count(url) == rows:
        return url
    engine = fresh_database(path)
    names = bench_symbols(symbols)
    per_symbol = [rows // symbols + (1 if k < rows % symbols else 0) for k in range(symbols)]
    states: list[Any] = [None] * symbols
    prices = [10.0 * (1.5 ** (k % 12)) for k in range(symbols)]
    for start in range(0, max(per_symbol), DAYS_PER_CHUNK):
        chunk = []
        for k, name in enumerate(names):
            n = min(DAYS_PER_CHUNK, per_symbol[k] - start)
            if n > 0:
                batch, states[k], prices[k] = prediction_rows(name, n, skip=start, state=states[k], price=prices[k])
                chunk.extend(batch)
        insert_predictions(engine, sorted(chunk, key=lambda r: (r["timestamp"], r["symbol"])))
    upsert_scoreboard(engine, scoreboard_rows(names))
    write_counter_rows(engine, counters(rows, time.time()), utc_now())
    engine.dispose()
    return url


def _row_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(predictions)).scalar() or 0
    except Exception:  # noqa: BLE001 - an unreadable cache file is rebuilt
        return -1
    finally:
        engine.dispose()


def original_refresh(engine: Any, symbol: str, limit: int) -> list[Any]:
    """The prototype's refresh: reload the newest rows by processing_time, rebuild every figure."""
    with engine.connect() as conn:
        df = pd.read_sql_query(
            "SELECT * FROM predictions WHERE symbol = ? ORDER BY processing_time DESC LIMIT ?",
            conn.connection.driver_connection,
            params=(symbol, limit),
        )
    df = df.iloc[::-1]
    price = go.Figure()
    for column in ("current_price", "sma_10", "sma_20", "bb_upper", "bb_lower"):
        price.add_trace(go.Scatter(x=df["processing_time"], y=df[column], mode="lines", name=column))
    rsi = go.Figure(go.Scatter(x=df["processing_time"], y=df["rsi_14"], mode="lines"))
    macd = go.Figure(go.Scatter(x=df["processing_time"], y=df["macd_line"], mode="lines"))
    macd.add_trace(go.Bar(x=df["processing_time"], y=df["macd_histogram"]))
    return [price, rsi, macd, df.iloc[-1].to_dict()]


def original_symbols(engine: Any) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT DISTINCT symbol FROM predictions ORDER BY symbol")]


def timed(fn: Callable[[int], Any], reps: int) -> tuple[float, float, int]:
    """(median ms, p95 ms, JSON bytes of the last result) over ``reps`` calls of ``fn(i)``."""
    fn(0)  # warm the connection pool and caches once
    samples, result = [], None
    for i in range(reps):
        start = time.perf_counter()
        result = fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, len(json.dumps(result, cls=PlotlyJSONEncoder, default=str))


def _as_outputs(update: dict[tuple[str, str], Any]) -> list[Any]:
    return [update.get(key) for key in VIEW_OUTPUTS]


def run(
    rows: int = 1_000_000, symbols: int = 39, reps: int = 200, max_points: int = 500, db_path: Path | None = None
) -> list[dict[str, Any]]:
    """Time every refresh callback and its baseline; one dict per case."""
    path = db_path or Path(tempfile.gettempdir()) / f"flameback-bench-dashboard-{rows}-{symbols}.db"
    url = build_database(path, rows, symbols)
    source = Source(url, queries.reader_engine(url), {}, max_points)
    names = bench_symbols(symbols)
    cursors = {s: view_update(source, s, NO_CURSOR)[(ids.CURSOR, "data")] for s in names}
    last_ids = {s: [r["id"] for r in queries.latest_rows(source.engine, s, 2)] for s in names}
    base_reps = max(reps // 5, 10)

    def pick(i: int) -> str:
        return names[i % len(names)]

    original = (lambda i: original_refresh(source.engine, pick(i), max_points), base_reps)
    cases = [
        (
            "symbol list (skip-scan)",
            lambda i: symbol_choices(source, pick(i), None),
            reps,
            "SELECT DISTINCT symbol",
            (lambda i: original_symbols(source.engine), base_reps),
        ),
        (
            "view: symbol change (KPIs, signals)",
            lambda i: _as_outputs(view_update(source, pick(i), NO_CURSOR)),
            reps,
            "original reload + 3 go.Figure",
            original,
        ),
        (
            "view: steady, no new rows",
            lambda i: _as_outputs(view_update(source, pick(i), cursors[pick(i)])),
            reps,
            "original reload + 3 go.Figure",
            original,
        ),
        (
            "view: 1 new row",
            lambda i: _as_outputs(view_update(source, pick(i), {**cursors[pick(i)], "last_id": last_ids[pick(i)][0]})),
            reps,
            "original reload + 3 go.Figure",
            original,
        ),
        ("pipeline health", lambda i: health_update(source), reps, None, None),
    ]
    results = []
    for name, fn, n, baseline_name, baseline in cases:
        median, p95, size = timed(fn, n)
        row = {
            "callback": name,
            "median_ms": median,
            "p95_ms": p95,
            "bytes": size,
            "reps": n,
            "baseline": baseline_name,
            "baseline_median_ms": None,
            "ratio": None,
        }
        if baseline is not None:
            b_median, _b_p95, _b_size = timed(*baseline)
            row.update(baseline_median_ms=b_median, ratio=b_median / median)
        results.append(row)
    source.engine.dispose()
    return results


def table_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``python -m bench``'s table: median ms per callback, beside its baseline's."""
    return [
        {
            "name": f"terminal {r['callback']}",
            "figure": r["median_ms"],
            "baseline": r["baseline_median_ms"],
            "unit": "ms",
            "better": "lower",
        }
        for r in results
    ]


def print_table(results: list[dict[str, Any]], rows: int, symbols: int) -> None:
    print(f"dashboard refresh callbacks, {rows:,} rows, {symbols} symbols (server side; target < {TARGET_MS:.0f} ms)")
    print(f"{'callback':34} {'median ms':>9} {'p95 ms':>8} {'bytes':>8}  {'baseline':30} {'base ms':>8} {'ratio':>7}")
    for r in results:
        base = "-" if r["baseline_median_ms"] is None else f"{r['baseline_median_ms']:8.2f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:6.1f}x"
        print(
            f"{r['callback']:34} {r['median_ms']:9.2f} {r['p95_ms']:8.2f} {r['bytes']:8,}  "
            f"{(r['baseline'] or '-'):30} {base:>8} {ratio:>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=39)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--max-points", type=int, default=500)
    parser.add_argument("--db", type=Path, default=None, help="benchmark file (default /tmp/flameback-bench-...)")
    args = parser.parse_args()
    started = time.perf_counter()
    results = run(args.rows, args.symbols, args.reps, args.max_points, args.db)
    print_table(results, args.rows, args.symbols)
    print(f"(total {time.perf_counter() - started:.1f} s including any database build)")


if __name__ == "__main__":
    main()
