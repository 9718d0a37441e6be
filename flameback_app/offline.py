"""Indicators for a whole tick file, offline, with the live engine (the ``features`` command).

Reads a wide or long tick CSV (:mod:`flameback_app.ticks_csv`). Writes nothing but
the requested CSV: one row per tick in input order per symbol, columns ``symbol,
timestamp, current_price`` then every indicator, ISO 8601 timestamps, an empty cell
for None, floats in ``repr`` form so they read back bit-exact. Training and the
end-to-end tests use :func:`iter_feature_rows`, so offline and live values are the
same code path.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from flameback_app.ta import FEATURE_FIELDS, IndicatorState, step
from flameback_app.ticks_csv import count_data_lines, read_ticks

OUTPUT_COLUMNS: tuple[str, ...] = ("symbol", "timestamp", "current_price", *FEATURE_FIELDS)


def iter_feature_rows(path: Path | str, symbols: set[str] | None = None, progress: bool = False) -> Iterator[dict]:
    """Every tick of the file with its features, one indicator state per symbol, in file order."""
    states: dict[str, IndicatorState] = {}
    bar = tqdm(total=count_data_lines(path), unit="line", file=sys.stderr, disable=not progress,
               desc=f"features {Path(path).name}", mininterval=0.5)  # fmt: skip
    last_line = 1
    with bar:
        for located in read_ticks(path, symbols):
            if located.line != last_line:
                bar.update(located.line - last_line)
                last_line = located.line
            tick = located.tick
            state = states.get(tick.symbol) or states.setdefault(tick.symbol, IndicatorState())
            _, features = step(state, tick.price)
            yield {"symbol": tick.symbol, "timestamp": tick.timestamp, "current_price": tick.price, **features}


def write_features_csv(path: Path | str, out: Path | str, progress: bool = True) -> int:
    """Write the features CSV for ``path`` to ``out``; returns the number of rows written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = out.with_name(out.name + ".partial")
    try:
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(OUTPUT_COLUMNS)
            for row in iter_feature_rows(path, progress=progress):
                writer.writerow([_cell(row[c]) for c in OUTPUT_COLUMNS])
                count += 1
        tmp.replace(out)  # no half-written output file if the input turns out to be unreadable
    finally:
        tmp.unlink(missing_ok=True)
    return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
