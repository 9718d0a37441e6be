"""Generated tick data run through the live indicator engine (tests and ``bench/inference.py``).

Reads nothing; writes nothing. Random-walk prices for a few symbols on shared daily
timestamps, turned into indicator rows by :func:`flameback_app.core.ta.step` — the same
engine as live and training — so tests exercise the real code path without the
market data file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from flameback_app.core.ta import IndicatorState, step

START = datetime(2020, 1, 1, tzinfo=UTC)


def random_walk_prices(n_ticks: int, symbols: int = 3, seed: int = 0) -> pd.DataFrame:
    """Long frame (symbol, timestamp, price): one tick per symbol per day, log-normal steps."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(symbols):
        level = 10.0 ** rng.uniform(0.5, 4.0)  # symbols priced from ~3 to ~10,000
        prices = level * np.exp(np.cumsum(rng.normal(0.0, 0.015, n_ticks)))
        frames.append(
            pd.DataFrame(
                {"symbol": f"SYM{k}", "price": prices, "timestamp": [START + timedelta(days=i) for i in range(n_ticks)]}
            )
        )
    return pd.concat(frames).sort_values(["timestamp", "symbol"], kind="stable").reset_index(drop=True)


def indicator_frame(ticks: pd.DataFrame, periods_per_year: float = 252.0) -> pd.DataFrame:
    """Indicator rows (symbol, timestamp, current_price + the 19 fields) for ticks in time order."""
    states: dict[str, IndicatorState] = {}
    rows = []
    for symbol, timestamp, price in ticks[["symbol", "timestamp", "price"]].itertuples(index=False):
        state = states.setdefault(symbol, IndicatorState(periods_per_year))
        _, features = step(state, float(price))
        rows.append({"symbol": symbol, "timestamp": timestamp, "current_price": float(price), **features})
    return pd.DataFrame(rows)
