"""Every benchmark in one run, one table: ``.venv/bin/python -m bench``.

Each figure stands beside a baseline measured in the same run on the same machine
(the machine is shared and noisy, so ratios are what to compare across runs):

- ``bench/indicators.py``: indicator engine µs/tick vs a naive recompute engine and talipp;
- ``bench/inference.py``: model inference rows/s, batched vs one row at a time;
- ``bench/dashboard.py``: terminal refresh callbacks on a 1,000,000-row database;
- ``bench/overview.py``: one market-overview refresh, 39 and 1,000 symbols on 1,000,000
  rows, vs whole-table window-function queries;
- ``bench/symbol_view.py``: the symbol chart's redraw per range (range = All bucketed in
  SQL) on 1,000,000 rows, time and bytes, vs reading all rows of the symbol;
- ``bench/browser.py``: first view, symbol change and overview refresh timed in headless
  Chromium (44,070 rows, waitress), beside the callbacks' time in flight in the same run;
- ``bench/pipeline.py``: end to end through the embedded broker and a worker, vs a
  re-creation of the original architecture; latency at a fixed rate; worker peak RSS.

Options: ``--only indicators,inference,...``, ``--quick`` (smaller inputs) and
``--baseline-ref REF`` (the pipeline suite compares this tree with REF's code instead).
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from typing import Any

import psutil

SUITES = ("indicators", "inference", "dashboard", "overview", "symbol_view", "browser", "pipeline")
QUICK_ARGS: dict[str, dict[str, Any]] = {
    "indicators": {"ticks": 50_000},
    "dashboard": {"rows": 200_000, "reps": 50},
    "overview": {"rows": 100_000, "reps": 10},
    "browser": {"reps": 2},
    "symbol_view": {"rows": 200_000, "reps": 5},
    "pipeline": {"ticks": 40_000, "latency_seconds": 10.0, "baseline_seconds": 15.0},
}


def _cell(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".strip()


def _ratio(row: dict[str, Any]) -> str:
    if row.get("no_ratio"):  # the baseline is a part of the figure (e.g. the server's share), not a rival
        return ""
    if row.get("ratio") is not None:
        return f"{row['ratio']:.1f}x"
    figure, baseline = row.get("figure"), row.get("baseline")
    if not figure or not baseline:
        return ""
    value = figure / baseline if row.get("better", "higher") == "higher" else baseline / figure
    return f"{value:.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated suites to run")
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a smoke run, not for figures)")
    parser.add_argument(
        "--baseline-ref",
        metavar="REF",
        help="pipeline suite: compare with REF's code case by case (bench.pipeline --baseline-ref)",
    )
    args = parser.parse_args()
    memory = psutil.virtual_memory().total / 2**30
    print(f"machine: {os.cpu_count()} cores, {memory:.0f} GiB; figures beside same-run baselines")
    table: list[tuple[str, dict[str, Any]]] = []
    for suite in [s.strip() for s in args.only.split(",") if s.strip()]:
        started = time.monotonic()
        module = importlib.import_module(f"bench.{suite}")
        kwargs = QUICK_ARGS.get(suite, {}) if args.quick else {}
        if suite == "pipeline" and args.baseline_ref:
            compare = {k: v for k, v in kwargs.items() if k in ("ticks", "latency_seconds")}
            rows = module.compare_with_ref(args.baseline_ref, **compare)
        else:
            rows = module.run(**kwargs)
        rows = module.table_rows(rows) if hasattr(module, "table_rows") else rows  # suites with their own layout
        print(f"[{suite}] done in {time.monotonic() - started:.0f}s", flush=True)
        table.extend((suite, row) for row in rows)
    print(f"\n{'suite':<15}{'benchmark':<58}{'figure':>16}{'baseline':>16}{'ratio':>8}")
    for suite, row in table:
        unit = row.get("unit", "")
        print(
            f"{suite:<15}{row['name'][:57]:<58}{_cell(row.get('figure'), unit):>16}"
            f"{_cell(row.get('baseline'), unit):>16}{_ratio(row):>8}"
        )


if __name__ == "__main__":
    main()
