"""Generated market data for the end-to-end tests and the pipeline benchmark, where the real file is absent.

Prices of the real file's shape (random walks per symbol, one tick per calendar day),
written as a tick CSV the ``replay`` command and the CSV readers take.
"""

from __future__ import annotations

import csv
from pathlib import Path


def write_long_csv(path: Path, rows: list[tuple[str, float, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["symbol", "price", "timestamp"])
        writer.writerows(rows)
    return path


def generated_rows(symbols: tuple[str, ...], days: int, seed: int = 11) -> list[tuple[str, float, str]]:
    import random
    from datetime import datetime, timedelta

    rng = random.Random(seed)
    prices = {s: rng.uniform(10, 3000) for s in symbols}
    start = datetime(2001, 1, 2)
    out = []
    for day in range(days):
        for s in symbols:
            prices[s] *= 1 + rng.gauss(0, 0.015)
            out.append((s, round(prices[s], 4), (start + timedelta(days=day)).isoformat()))
    return out
