"""A minimal re-creation of the original prototype's architecture, as the end-to-end baseline.

Two plain Kafka consumer processes, as the prototype had: ``feature_stage`` reads raw
ticks and recomputes every indicator from a ``deque(maxlen=100)`` per symbol on each
tick, then produces one JSON row per tick; ``model_stage`` reads those rows and, one row
at a time, calls each model's ``predict_proba`` and inserts and commits one SQLite row.
Run as ``python -m bench.original_arch {features|models} ...`` by ``bench/pipeline.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import time
from collections import defaultdict, deque
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.naive import naive_features
from flameback_app.kafka.kafka_client import kafka_client_config
from flameback_app.settings import load_settings


def kafka_kwargs() -> dict:
    """The brokers and security from ``FLAMEBACK_*``, like every client of the project."""
    return kafka_client_config(load_settings()).kwargs()


async def feature_stage(source: str, sink: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        source, **kafka_kwargs(), group_id=group, auto_offset_reset="earliest", fetch_max_wait_ms=100
    )
    producer = AIOKafkaProducer(**kafka_kwargs(), linger_ms=5)
    await consumer.start()
    await producer.start()
    history: dict[str, deque] = defaultdict(lambda: deque(maxlen=100))
    try:
        async for message in consumer:
            tick = json.loads(message.value)
            prices = history[tick["symbol"]]
            prices.append(tick["price"])
            row = {
                "symbol": tick["symbol"],
                "timestamp": tick["timestamp"],
                "current_price": tick["price"],
                "ingest": message.timestamp / 1000.0,
                **naive_features(prices),
            }
            await producer.send(sink, key=message.key, value=json.dumps(row).encode())
    finally:
        await consumer.stop()
        await producer.stop()


async def model_stage(source: str, group: str, db_path: Path, models_dir: Path) -> None:
    from models.live import SignalEngine
    from models.registry import load_latest

    engine = SignalEngine(load_latest(models_dir))
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS predictions (symbol TEXT, timestamp TEXT, current_price REAL, "
        "payload TEXT, latency_ms REAL)"
    )
    consumer = AIOKafkaConsumer(
        source, **kafka_kwargs(), group_id=group, auto_offset_reset="earliest", fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        async for message in consumer:
            row = json.loads(message.value)
            (signals,) = engine.predict([row])  # one row at a time, as the prototype did
            conn.execute(
                "INSERT INTO predictions VALUES (?, ?, ?, ?, ?)",
                (
                    row["symbol"],
                    row["timestamp"],
                    row["current_price"],
                    json.dumps(signals.columns()),
                    (time.time() - row["ingest"]) * 1000.0,
                ),
            )
            conn.commit()
    finally:
        await consumer.stop()
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stage", choices=["features", "models"])
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", default="baseline-features")
    parser.add_argument("--group", required=True)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--models", type=Path)
    args = parser.parse_args()
    if args.stage == "features":
        asyncio.run(feature_stage(args.source, args.sink, args.group))
    else:
        asyncio.run(model_stage(args.source, args.group, args.db, args.models))


if __name__ == "__main__":
    main()
