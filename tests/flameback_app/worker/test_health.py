"""``/health/``'s verdict from what the worker saw: each reason appears after its delay and clears on recovery."""

from __future__ import annotations

from flameback_app.worker.health import WorkerHealth


def test_database_writes_failing_is_a_reason_after_the_delay_and_clears_on_success() -> None:
    health = WorkerHealth(db_failing_s=5.0)
    health.write_failed("connection refused\n\tis the server running?", now=100.0)
    assert health.reasons(None, now=104.0) == []  # a blip shorter than the delay is no verdict
    health.write_failed("connection refused again", now=104.5)  # the clock runs from the first failure
    assert health.reasons(None, now=105.0) == ["database writes failing for 5s: connection refused again"]
    health.write_succeeded()
    assert health.reasons(None, now=200.0) == []


def test_a_partition_not_fetched_for_the_stall_time_is_a_reason_until_it_is_fetched() -> None:
    health = WorkerHealth(fetch_stall_s=30.0)
    assigned = ["futures-ticks/0", "futures-ticks/1"]
    health.partitions_seen(assigned, fetching=["futures-ticks/0"], now=0.0)
    health.partitions_seen(assigned, fetching=["futures-ticks/0"], now=29.0)
    assert health.reasons(None, now=29.0) == []
    assert health.reasons(None, now=30.0) == ["assigned partitions not fetched for more than 30s: futures-ticks/1"]
    health.partitions_seen(assigned, fetching=assigned, now=31.0)
    assert health.reasons(None, now=100.0) == []
    health.partitions_seen(assigned, fetching=["futures-ticks/0"], now=100.0)  # paused again: a new clock
    assert health.reasons(None, now=110.0) == []


def test_broker_unreachable_and_several_reasons_at_once() -> None:
    health = WorkerHealth(db_failing_s=0.0)
    health.write_failed("server closed the connection", now=10.0)
    assert health.reasons("127.0.0.1:9092: Connect call failed", now=10.0) == [
        "database writes failing for 0s: server closed the connection",
        "broker unreachable: 127.0.0.1:9092: Connect call failed",
    ]
