"""What the end-to-end tests check and send: offline features against database rows, raw messages, file heads, feeds.

Shared by the pipeline, resilience, producer, credential and shared-storage tests (no
test module imports another; they import this).
"""

from __future__ import annotations

import csv
import math
import subprocess
import time
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from flameback_app.core.topics import TICKS
from flameback_app.storage.db import FEATURE_COLUMNS, predictions
from tests.support.harness import FAUST, Stack


def input_ticks(path: Path) -> list[tuple[str, str]]:
    with path.open() as handle:
        return [(r["symbol"], datetime.fromisoformat(r["timestamp"]).isoformat()) for r in csv.DictReader(handle)]


def offline_features(stack: Stack, path: Path, *options: str) -> dict[tuple[str, str], dict[str, float | None]]:
    out = stack.root / "features.csv"
    stack.run_command("features", str(path), "--out", str(out), "--no-progress", *options)
    with out.open() as handle:
        return {
            (r["symbol"], r["timestamp"]): {c: float(r[c]) if r[c] else None for c in FEATURE_COLUMNS}
            for r in csv.DictReader(handle)
        }


def database_features(stack: Stack) -> dict[tuple[str, str], dict[str, float | None]]:
    engine = create_engine(stack.database_url, poolclass=NullPool)
    columns = [predictions.c.symbol, predictions.c.timestamp, *(predictions.c[c] for c in FEATURE_COLUMNS)]
    with engine.connect() as conn:
        rows = conn.execute(select(*columns)).all()
    engine.dispose()
    assert all(isinstance(r[1], datetime) and r[1].tzinfo is None for r in rows)  # naive UTC, as written
    return {(r[0], r[1].isoformat()): dict(zip(FEATURE_COLUMNS, r[2:], strict=True)) for r in rows}


def assert_rows_match_offline(stack: Stack, path: Path) -> int:
    """Exactly one row per input tick, and every indicator equal to the offline engine's."""
    expected = offline_features(stack, path)
    actual = database_features(stack)
    assert len(expected) == len(input_ticks(path))
    assert set(actual) == set(expected), (
        f"missing {len(set(expected) - set(actual))}, unexpected {len(set(actual) - set(expected))}"
    )
    mismatches = [
        (key, col, actual[key][col], want)
        for key, cols in expected.items()
        for col, want in cols.items()
        if not _same(actual[key][col], want)
    ]
    assert not mismatches, f"{len(mismatches)} values differ, first: {mismatches[:3]}"
    return len(actual)


def _same(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)


async def send_raw(bootstrap: str, messages: list[tuple[bytes | None, bytes, int | None]], topic: str = TICKS) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for key, value, partition in messages:
            await producer.send(topic, key=key, value=value, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, expected: int, timeout: float) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


def head(path: Path, n: int, out: Path) -> Path:
    """The first ``n`` ticks of a long-layout file."""
    lines = path.read_text().splitlines()
    out.write_text("\n".join(lines[: n + 1]) + "\n")
    return out


def start_feed(stack: Stack, file: Path, rate: int) -> subprocess.Popen:
    log = (stack.root / "feed.log").open("w")
    return subprocess.Popen(
        [*FAUST, "replay", str(file), "--rate", str(rate), "--no-progress"],
        env=stack.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
