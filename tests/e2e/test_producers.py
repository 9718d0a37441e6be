"""A plain producer's ticks end to end: epoch stamps, same-millisecond trades, volume, topic names of its own.

Real Tansu broker, real worker processes (SIGKILLed and restarted), RocksDB tables and a
SQLite file. The producer is a bare aiokafka client sending one JSON tick per message,
as any Kafka client would, to topics named by the FLAMEBACK_*_TOPIC settings.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.support.harness import Stack, wait_for
from tests.support.pipeline_checks import read_topic, send_raw

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOPICS = {
    "FLAMEBACK_TICKS_TOPIC": "vendor-trades",
    "FLAMEBACK_DEAD_LETTER_TOPIC": "vendor-trades-rejected",
    "FLAMEBACK_FEATURES_TOPIC": "vendor-features",
}


def rows(stack: Stack, symbol: str) -> list[tuple]:
    engine = create_engine(stack.database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT timestamp, seq, current_price, volume FROM predictions "
                        "WHERE symbol = :s ORDER BY timestamp, seq"
                    ),
                    {"s": symbol},
                )
            )
    finally:
        engine.dispose()


def message(symbol: str, price: float, stamp: object, **extra: object) -> tuple[bytes, bytes, None]:
    return symbol.encode(), json.dumps({"symbol": symbol, "price": price, "timestamp": stamp, **extra}).encode(), None


def test_trades_of_one_millisecond_survive_a_sigkill_and_a_future_tick_poisons_nothing(stack: Stack) -> None:
    stack.extra_env.update(TOPICS)
    stack.start_worker()
    stack.wait_assigned()
    bootstrap = stack.broker.url.removeprefix("kafka://")
    now_ms = int(time.time() * 1000) - 60_000  # a minute ago, in epoch milliseconds
    trades = [message("ES1 Index", 6000.25 + i / 4, now_ms, seq=i, volume=10 * i) for i in (1, 2, 3)]
    same_instant = [message("NQ1 Index", 21000.0, now_ms), message("NQ1 Index", 21000.5, now_ms)]  # no seq
    epoch_s = int(time.time()) - 3600
    good = [message("CL1 Comdty", 70.0 + i / 10, epoch_s + i, volume=i) for i in range(100)]
    poisoned = good[:50] + [message("CL1 Comdty", 71.0, "2999-01-01T00:00:00Z")] + good[50:]
    asyncio.run(send_raw(bootstrap, trades + same_instant + poisoned, topic=TOPICS["FLAMEBACK_TICKS_TOPIC"]))

    wait_for(
        lambda: len(rows(stack, "ES1 Index")) == 3 and len(rows(stack, "CL1 Comdty")) == 100,
        90,
        "the three trades and the 100 good ticks as rows",
    )
    stack.kill_worker()  # SIGKILL: offsets of the last batch may be uncommitted, and Kafka redelivers them
    asyncio.run(send_raw(bootstrap, trades, topic=TOPICS["FLAMEBACK_TICKS_TOPIC"]))  # a producer retry, too
    stack.start_worker()
    stack.wait_assigned()
    wait_for(
        lambda: (c := stack.get_json("w1", "/counters/")) and c.get("stale_total", 0) >= 3,
        90,
        "the resent trades to be seen as stale",
    )

    es = rows(stack, "ES1 Index")
    assert [(seq, price, volume) for _ts, seq, price, volume in es] == [
        (1, 6000.5, 10.0),
        (2, 6000.75, 20.0),
        (3, 6001.0, 30.0),
    ]
    assert len({ts for ts, *_ in es}) == 1  # one millisecond, three rows
    assert [(seq, price) for _ts, seq, price, _v in rows(stack, "NQ1 Index")] == [(0, 21000.0)]
    cl = rows(stack, "CL1 Comdty")
    assert [price for _ts, _seq, price, _v in cl] == [70.0 + i / 10 for i in range(100)]  # none after 2999 lost
    dead = asyncio.run(read_topic(bootstrap, TOPICS["FLAMEBACK_DEAD_LETTER_TOPIC"], 2, timeout=30))
    # a set: the dead-letter topic is at-least-once (a redelivered batch may dead-letter its tick again)
    assert {dict(r.headers)["reason"].decode() for r in dead} == {"future_timestamp", "same_timestamp"}
    features = asyncio.run(read_topic(bootstrap, TOPICS["FLAMEBACK_FEATURES_TOPIC"], 104, timeout=30))
    es_features = [json.loads(r.value) for r in features if r.key == b"ES1 Index"]
    assert [(f["seq"], f["volume"]) for f in es_features][:3] == [(1, 10.0), (2, 20.0), (3, 30.0)]
    print(
        f"\nsame-timestamp test: ES1 3 trades in 1 ms → {len(es)} rows after SIGKILL + resend; "
        f"NQ1 2 no-seq ticks in 1 ms → 1 row + 1 same_timestamp; CL1 100 good around a 2999 tick → {len(cl)} rows"
    )
