"""Realistic ``predictions``/``scoreboard``/``pipeline_counters`` rows for terminal tests and its benchmark.

Reads nothing; writes only the database it is given, through the worker's own
writers (:mod:`flameback_app.storage.db`). Prices are a log-normal random walk per symbol on
business days; indicators come from the live engine (:func:`flameback_app.core.ta.step`),
so warm-up rows have exactly the nulls the worker writes. Signals follow the five
rules on those indicators; the model columns are plausible probabilities (this
module does not train models).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from flameback_app.core.records import utc_now
from flameback_app.core.ta import IndicatorState, step
from flameback_app.storage.db import (
    ALL_SYMBOLS,
    MODEL_COLUMNS,
    PROBABILITY_COLUMNS,
    SIGNAL_COLUMNS,
    insert_predictions,
    make_engine,
    upsert_scoreboard,
    write_counters,
)
from flameback_app.storage.schema import upgrade

START = datetime(2018, 1, 2)
MODELS_READY_AT = 34  # first tick with every indicator (MACD signal) valid


def business_days(start: datetime, skip: int = 0) -> Iterator[datetime]:
    day, seen = start, 0
    while True:
        if day.weekday() < 5:
            if seen >= skip:
                yield day
            seen += 1
        day += timedelta(days=1)


def _direction(value: float | None) -> str | None:
    return None if value is None else ("UP" if value > 0 else "DOWN")


def rule_signals(price: float, f: dict[str, float | None]) -> dict[str, str | None]:
    """The five rules (README, "Rules"; as in the original system): RSI > 50, MACD > 0, momentum, last change, Bollinger."""
    bb = None
    if f["bb_upper"] is not None and f["bb_lower"] is not None:
        bb = "DOWN" if price > f["bb_upper"] else "UP" if price < f["bb_lower"] else "NEUTRAL"
    return {
        "RSI_Rule": _direction(None if f["rsi_14"] is None else f["rsi_14"] - 50),
        "MACD_Rule": _direction(f["macd_line"]),
        "Momentum_Rule": _direction(f["momentum_10"]),
        "PriceChange_Rule": _direction(f["price_change_pct"]),
        "BB_Rule": bb,
    }


def model_signals(rng: random.Random, f: dict[str, float | None], ready: bool) -> dict[str, Any]:
    """Probabilities leaning slightly on momentum, as a weak real model would; TRAINING before models exist."""
    out: dict[str, Any] = dict.fromkeys((*MODEL_COLUMNS, *PROBABILITY_COLUMNS))
    if f["macd_signal"] is None:
        return out
    if not ready:
        return {**out, **dict.fromkeys(MODEL_COLUMNS, "TRAINING")}
    lean = math.tanh((f["momentum_10"] or 0.0) * 20) * 0.04
    for name in MODEL_COLUMNS:
        p_up = min(max(0.5 + lean + rng.gauss(0, 0.03), 0.01), 0.99)
        out[name], out[f"{name}_p_up"] = ("UP" if p_up > 0.5 else "DOWN"), p_up
    return out


def prediction_rows(
    symbol: str,
    n: int,
    *,
    seed: int = 0,
    price: float = 100.0,
    skip: int = 0,
    state: IndicatorState | None = None,
    models_ready: bool = True,
    vol: float = 0.012,
) -> tuple[list[dict[str, Any]], IndicatorState, float]:
    """``n`` rows as the worker writes them; pass the returned state and price back to continue the series."""
    rng = random.Random(f"{symbol}:{seed}:{skip}")
    sizes = random.Random(f"volume:{symbol}:{seed}:{skip}")  # its own stream: the other values stay as they were
    state = state or IndicatorState()
    rows = []
    for day in _take(business_days(START, skip), n):
        price *= math.exp(rng.gauss(0.0002, vol))
        state, features = step(state, price)
        processed = day + timedelta(seconds=rng.uniform(0.01, 0.2))
        rows.append(
            {
                "symbol": symbol,
                "timestamp": day,
                "current_price": price,
                "processing_time": processed,
                **features,
                **rule_signals(price, features),
                **model_signals(rng, features, models_ready),
                "model_version": "20260101T000000Z" if models_ready else None,
                "ingest_time": day,
                "latency_ms": rng.uniform(2, 40),
                "volume": float(sizes.randint(1, 500)),
            }
        )
    return rows, state, price


def _take(it: Iterator[datetime], n: int) -> list[datetime]:
    return [next(it) for _ in range(n)]


def scoreboard_rows(symbols: Sequence[str], seed: int = 0) -> list[dict[str, Any]]:
    """Hit rates near a coin flip (what daily direction gives), per symbol and for all symbols."""
    rng = random.Random(seed)
    rows = []
    for symbol in (*symbols, ALL_SYMBOLS):
        n = 4000 if symbol == ALL_SYMBOLS else 250
        for signal in SIGNAL_COLUMNS:
            rate = rng.uniform(0.47, 0.55)
            rows.append(
                {
                    "symbol": symbol,
                    "signal": signal,
                    "n": n,
                    "hits": round(n * rate),
                    "hit_rate": rate,
                    "hit_rate_20": round(rng.uniform(0.35, 0.65) * 20) / 20,
                    "hit_rate_60": rng.uniform(0.4, 0.6),
                    "hit_rate_250": rate,
                    "baseline_up_rate": rng.uniform(0.49, 0.53),
                    "updated_at": utc_now(),
                }
            )
    return rows


def counters(ticks: int, last_tick_time: float, rejected: int = 3) -> dict[str, float]:
    """The figures the worker's counters snapshot writes (flameback_app.worker.counters)."""
    return {
        "ticks_processed": ticks,
        "ticks_per_s": 412.5,
        "rejected_total": rejected,
        "stale_total": 7,
        "forwarded_total": ticks,
        "rows_written": ticks,
        "last_tick_time": last_tick_time,
    }


def seed_database(
    url: str, symbols: dict[str, int], *, models_ready: bool = True, seed: int = 0, with_scoreboard: bool = True
) -> Engine:
    """Create the schema and write ``symbols`` ({symbol: rows}) interleaved by day, as a live feed would."""
    engine = make_engine(url)
    upgrade(engine)
    series = [
        prediction_rows(s, n, seed=seed, price=20.0 * 3 ** (k % 6), models_ready=models_ready)[0]
        for k, (s, n) in enumerate(symbols.items())
    ]
    by_day = sorted((row for rows in series for row in rows), key=lambda r: (r["timestamp"], r["symbol"]))
    insert_predictions(engine, by_day)
    if with_scoreboard:
        upsert_scoreboard(engine, scoreboard_rows(list(symbols), seed))
    write_counters(engine, counters(len(by_day), time.time()), utc_now())
    return engine
