"""Indicators for a whole tick file, offline, with the live engine (the ``features`` command).

Reads a wide or long tick CSV (:mod:`flameback_app.core.ticks_csv`). Writes nothing but
the requested CSV: one row per tick in input order per symbol, columns ``symbol,
timestamp, current_price``, every indicator, then ``seq`` (0 when the tick had none)
and ``volume`` (empty when none) — added at the end, so readers by position of the
older columns see no change —, ISO 8601 timestamps, an empty cell
for None, floats in ``repr`` form so they read back bit-exact. Training and the
end-to-end tests use :func:`iter_feature_rows`, so offline and live values come from
the same code path (:func:`flameback_app.core.ta.step`).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from flameback_app.core.ta import DEFAULT_PERIODS_PER_YEAR, FEATURE_FIELDS, IndicatorState, step
from flameback_app.core.ticks_csv import count_data_lines, read_ticks

OUTPUT_COLUMNS: tuple[str, ...] = ("symbol", "timestamp", "current_price", *FEATURE_FIELDS, "seq", "volume")
PROGRESS_MIN_LINES = 2_000  # smaller files finish before a bar would tell anyone anything


def iter_feature_rows(
    path: Path | str,
    symbols: set[str] | None = None,
    progress: bool = False,
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
) -> Iterator[dict[str, Any]]:
    """Every tick of the file with its features, one indicator state per symbol, in file order.

    ``periods_per_year``: the tick spacing volatility_20 is annualised with
    (FLAMEBACK_PERIODS_PER_YEAR; the commands pass the setting or their flag).

    Each row is ``symbol, timestamp (datetime), current_price``, FEATURE_FIELDS, ``seq``, ``volume``.
    Raises :class:`~flameback_app.core.ticks_csv.TickFileError` (a ValueError naming
    file, line and reason) for unreadable input, after yielding the rows before it.
    """
    states: dict[str, IndicatorState] = {}
    total = count_data_lines(path) if progress else 0
    with tqdm(
        total=total,
        unit="line",
        file=sys.stderr,
        disable=not progress or total < PROGRESS_MIN_LINES,
        desc=f"features {Path(path).name}",
        mininterval=0.5,
    ) as bar:
        for located in read_ticks(path, symbols):
            if located.line - 1 > bar.n:
                bar.update(located.line - 1 - bar.n)
            tick = located.tick
            state = states.get(tick.symbol)
            if state is None:
                state = IndicatorState(periods_per_year)
            states[tick.symbol], features = step(state, tick.price)
            yield {
                "symbol": tick.symbol,
                "timestamp": tick.timestamp,
                "current_price": tick.price,
                **features,
                "seq": tick.order_key[1],
                "volume": tick.volume,
            }
        bar.update(total - bar.n)


def write_features_csv(
    path: Path | str, out: Path | str, progress: bool = True, periods_per_year: float = DEFAULT_PERIODS_PER_YEAR
) -> int:
    """Write the features CSV for ``path`` to ``out``; returns the number of rows written.

    The output appears only when the whole input was read: an unreadable row
    leaves no half-written file behind (the error names file, line and reason).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(OUTPUT_COLUMNS)
            for row in iter_feature_rows(path, progress=progress, periods_per_year=periods_per_year):
                writer.writerow([_cell(row[column]) for column in OUTPUT_COLUMNS])
                count += 1
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return count


def _cell(value: Any) -> str:
    """CSV text for one value: empty for None, ``repr`` for floats (exact round trip), ISO 8601 times."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
