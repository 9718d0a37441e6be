"""Benchmark of the symbol chart on a 1,000,000-row database: each range's redraw, beside the naive read of all rows.

Uses ``bench/dashboard.py``'s database (built once, reused from /tmp: 39 symbols, one
tick a business day, every indicator and the volume filled, so the payload is what a
real database gives; range = All is ~25,600 rows per symbol). Times
:func:`dashboard.symbol_view.chart_update` — the whole redraw: newest-row seek, the
range's count, the SQL bucketing into at most ``MAX_BARS`` bars, the figure — and the
JSON bytes of the figure the browser receives. Beside it, in the same run: the naive
way to show range = All, every row of the symbol with every column (its time, and
the JSON bytes of those rows before any figure is built around them).

    .venv/bin/python -m bench.symbol_view [--rows 1000000] [--symbols 39] [--reps 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from plotly.utils import PlotlyJSONEncoder

from bench.dashboard import bench_symbols, build_database
from bench.overview import timed
from dashboard import history, queries, symbol_view
from dashboard.callbacks import Source

TARGET_MS, TARGET_BYTES = 300.0, 1_000_000
NAIVE_REPS = 5


def payload_bytes(value: Any) -> int:
    """What the value weighs as the JSON Dash sends."""
    return len(json.dumps(value, cls=PlotlyJSONEncoder, default=str))


def run(rows: int = 1_000_000, symbols: int = 39, reps: int = 20) -> list[dict[str, Any]]:
    """One dict per range (redraw ms and bytes), the steady refresh, and the naive read for range = All."""
    path = Path(tempfile.gettempdir()) / f"flameback-bench-dashboard-{rows}-{symbols}.db"
    url = build_database(path, rows, symbols)
    source = Source(url, queries.reader_engine(url), {})
    symbol = bench_symbols(symbols)[symbols // 2]
    results = []
    for name in history.RANGES:
        median, p95, (figure, key) = timed(
            lambda n=name: symbol_view.chart_update(source, symbol, n, "XGBoost", None), reps
        )
        win = history.window(source.engine, symbol, name)
        price = next(t for t in figure["data"] if t["name"] in ("Price", "OHLC"))
        results.append(
            {
                "case": f"range={name} redraw ({win.rows:,} rows → {len(price['x']):,} bars)",
                "median_ms": median,
                "p95_ms": p95,
                "bytes": payload_bytes(figure),
                "key": key,
            }
        )
    steady = results[-1]["key"]
    median, p95, _ = timed(lambda: symbol_view.chart_update(source, symbol, "All", "XGBoost", steady), reps)
    results.append({"case": "refresh, no new row (no redraw)", "median_ms": median, "p95_ms": p95, "bytes": 0})
    median, p95, naive = timed(lambda: history.naive_rows(source.engine, symbol), NAIVE_REPS, warm_up=False)
    results.append(
        {
            "case": f"naive: all {len(naive):,} rows of the symbol",
            "median_ms": median,
            "p95_ms": p95,
            "bytes": payload_bytes(naive),
        }
    )
    source.engine.dispose()
    return results


def table_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``python -m bench`` rows: range = All's redraw (ms, then bytes) beside the naive read of all rows."""
    every, naive = next(r for r in results if r["case"].startswith("range=All")), results[-1]
    return [
        {
            "name": "symbol chart range=All redraw (SQL buckets)",
            "figure": every["median_ms"],
            "baseline": naive["median_ms"],
            "unit": "ms",
            "better": "lower",
        },
        {
            "name": "symbol chart range=All payload",
            "figure": every["bytes"] / 1000,
            "baseline": naive["bytes"] / 1000,
            "unit": "kB",
            "better": "lower",
        },
    ]


def print_table(results: list[dict[str, Any]], rows: int, symbols: int) -> None:
    print(
        f"symbol chart, {rows:,} rows, {symbols} symbols, SQLite (targets: range=All ≤ {TARGET_MS:.0f} ms server, "
        f"≤ {TARGET_BYTES / 1e6:.0f} MB to the browser)"
    )
    print(f"{'case':52} {'median ms':>9} {'p95 ms':>8} {'bytes':>11}")
    for r in results:
        print(f"{r['case']:52} {r['median_ms']:9.1f} {r['p95_ms']:8.1f} {r['bytes']:11,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=39)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    print_table(run(args.rows, args.symbols, args.reps), args.rows, args.symbols)


if __name__ == "__main__":
    main()
