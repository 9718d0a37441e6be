"""Tansu on S3 storage (a real moto S3 server on loopback): a broker restart that loses
nothing, and two brokers sharing one storage, one of them SIGKILLed mid-replay.

Both end with the exact check of every other resilience test: one row per input tick
and every indicator equal to the offline ``features`` output.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from flameback_app.core.topics import TICKS as TICKS_TOPIC
from tests.support.harness import Broker, S3Server, Stack, wait_for
from tests.support.pipeline_checks import assert_rows_match_offline, head, start_feed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TICKS = 1_500  # Tansu on moto moves tens of ticks/s here (every fetch lists the partition's objects)
# Fewer, longer fetches: each one costs Tansu an S3 listing, and moto (Python) is the bottleneck.
S3_WORKER_ENV = {"FLAMEBACK_FETCH_MAX_WAIT_MS": "500"}


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    server = S3Server(tmp_path / "moto.log").start()
    yield server
    server.stop()


async def _topics_and_offsets(kwargs: dict, group: str) -> tuple[set[str], dict]:
    """The broker's topics and the group's committed offsets on ``futures-ticks``.

    (aiokafka's admin ``list_consumer_group_offsets`` cannot parse Tansu's OffsetFetch
    answer; a consumer of the group that does not subscribe reads the same offsets.)
    """
    admin = AIOKafkaAdminClient(**kwargs, request_timeout_ms=10000)
    consumer = AIOKafkaConsumer(**kwargs, group_id=group, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        partitions = [TopicPartition(TICKS_TOPIC, p) for p in range(4)]
        offsets = {f"{tp.topic}/{tp.partition}": await consumer.committed(tp) for tp in partitions}
        return set(await admin.list_topics()), offsets
    finally:
        await consumer.stop()
        await admin.close()


def _once_committed(stack: Stack) -> tuple[set[str], dict] | None:
    """The topics and the group's offsets, once at least one offset has been committed (else None)."""
    topics, offsets = asyncio.run(_topics_and_offsets(stack.kafka_kwargs(), stack.app_id))
    return (topics, offsets) if any(offsets.values()) else None


def figures(stack: Stack, expected: int, what: str) -> None:
    counters = wait_for(lambda: stack.get_json("w1", "/counters/"), 30, "the counters view")
    print(
        f"\n{what}: rows expected {expected}, stored {stack.row_count()}, "
        f"redelivered ticks dropped as stale {counters.get('stale_total')}"
    )


def test_broker_restart_on_s3_storage_loses_nothing(tmp_path: Path, s3: S3Server, real_subset: Path) -> None:
    file = head(real_subset, TICKS, tmp_path / "ticks.csv")
    broker = Broker(tmp_path / "tansu.log", s3.storage()).start()
    stack = Stack(root=tmp_path, broker=broker, app_id=f"fb-s3-{uuid.uuid4().hex[:6]}", extra_env=S3_WORKER_ENV)
    try:
        stack.start_worker()
        stack.wait_assigned()
        feed = start_feed(stack, file, rate=150)  # 10 s of feed: the stop comes while it still sends
        started = time.monotonic()
        wait_for(lambda: stack.row_count() >= TICKS // 3, 240, "a third of the rows before the broker stops")
        # Offsets are committed on Faust's interval, not per row: wait for the first commit before the stop.
        before = wait_for(lambda: _once_committed(stack), 15, "the worker's first offset commit")
        assert feed.poll() is None, "the feed had finished before the broker stopped"
        broker.stop()  # SIGTERM mid-replay: the feed's producer holds its unsent ticks and retries
        stack.kill_worker()
        shutil.rmtree(stack.state_dir("w1"))  # the tables can only come back from their changelogs
        broker.start()  # same storage, same cluster id
        topics, offsets = asyncio.run(_topics_and_offsets(stack.kafka_kwargs(), stack.app_id))
        assert before[0] <= topics, f"topics lost: {before[0] - topics}"
        assert any("changelog" in t for t in topics)
        assert all((offsets[tp] or 0) >= (off or 0) for tp, off in before[1].items()), (before[1], offsets)  # kept
        stack.start_worker()
        assert feed.wait(300) == 0, (stack.root / "feed.log").read_text()[-2000:]
        stack.wait_rows(TICKS, timeout=400)
        figures(stack, TICKS, f"S3 broker restart ({time.monotonic() - started:.0f}s from the first tick)")
        assert_rows_match_offline(stack, file)
        assert "restarting this worker" not in (tmp_path / "worker-w1.log").read_text()  # one cluster id throughout
    finally:
        stack.stop_all()
        broker.stop()


def broker_in_use(brokers: list[Broker], pids: list[int]) -> tuple[Broker, dict[int, int]]:
    """The broker most of these processes' Kafka connections go to, and the count per broker port."""
    ports = {b.port: 0 for b in brokers}
    for pid in pids:
        for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
            for conn in proc.net_connections(kind="tcp"):
                if conn.raddr and conn.raddr.port in ports and conn.status == psutil.CONN_ESTABLISHED:
                    ports[conn.raddr.port] += 1
    busiest = max(ports, key=ports.__getitem__)
    return next(b for b in brokers if b.port == busiest), ports


def test_two_brokers_on_one_storage_survive_a_sigkill(tmp_path: Path, s3: S3Server, real_subset: Path) -> None:
    file = head(real_subset, TICKS, tmp_path / "ticks.csv")
    brokers = [Broker(tmp_path / f"tansu-{n}.log", s3.storage()).start() for n in "ab"]
    stack = Stack(
        root=tmp_path,
        broker=brokers[0],
        app_id=f"fb-two-{uuid.uuid4().hex[:6]}",
        bootstrap_url=";".join(b.url for b in brokers),
        extra_env=S3_WORKER_ENV,
    )
    try:
        stack.start_worker("w1")
        stack.start_worker("w2")
        wait_for(
            lambda: all(
                (h := stack.health(w)) and any(a.startswith("futures-ticks") for a in h["assigned"])
                for w in ("w1", "w2")
            ),
            120,
            "both workers to own futures-ticks partitions",
        )
        feed = start_feed(stack, file, rate=300)
        started = time.monotonic()
        wait_for(lambda: stack.row_count() >= TICKS // 3, 240, "a third of the rows before the SIGKILL")
        victim, connections = broker_in_use(brokers, [p.pid for p in stack.workers.values()] + [feed.pid])
        print(f"\nconnections per broker port before the SIGKILL: {connections}; killing {victim.port}")
        assert connections[victim.port] > 0
        victim.kill()
        assert feed.wait(300) == 0, (stack.root / "feed.log").read_text()[-2000:]
        stack.wait_rows(TICKS, timeout=400)
        figures(stack, TICKS, f"two brokers, one SIGKILLed ({time.monotonic() - started:.0f}s from the first tick)")
        assert all(p.poll() is None for p in stack.workers.values())
        assert_rows_match_offline(stack, file)
    finally:
        stack.stop_all()
        for b in brokers:
            b.stop()


def test_broker_command_on_s3_keeps_one_cluster_id_and_redacts_secrets(tmp_path: Path, s3: S3Server) -> None:
    stack = Stack(root=tmp_path, broker=Broker(tmp_path / "unused.log"), app_id="fb-cmd", extra_env=s3.env())
    env = stack.env(FLAMEBACK_DATA_DIR=str(tmp_path / "cli"))
    ids = []
    for _ in range(2):
        broker = subprocess.Popen(
            [*__import__("tests.support.harness", fromlist=["FAUST"]).FAUST, "broker"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        line = broker.stderr.readline()
        assert line.startswith("broker ready at"), line
        assert "s3://tansu/" in line and "survive a restart" in line
        assert S3Server.SECRET_KEY not in line and S3Server.ACCESS_KEY not in line
        ids.append(asyncio.run(_cluster_id(stack.kafka_kwargs())))
        broker.terminate()
        assert broker.wait(30) == 0
    assert ids[0] == ids[1] == "flameback"


async def _cluster_id(kwargs: dict) -> str:
    admin = AIOKafkaAdminClient(**kwargs)
    await admin.start()
    try:
        return (await admin.describe_cluster())["cluster_id"]
    finally:
        await admin.close()


def test_unreachable_storage_is_one_line(tmp_path: Path) -> None:
    dead = S3Server(tmp_path / "moto.log")  # never started: nothing listens on its port
    stack = Stack(root=tmp_path, broker=Broker(tmp_path / "unused.log"), app_id="fb-dead", extra_env=dead.env())
    result = stack.run_command("broker", check=False, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert "broker storage s3://tansu/ at http://127.0.0.1:" in result.stderr and "cannot be reached" in result.stderr
    assert S3Server.SECRET_KEY not in result.stderr


def test_storage_outage_is_waited_out(tmp_path: Path, s3: S3Server, real_subset: Path) -> None:
    """The S3 server frozen for 10 s mid-replay (SIGSTOP: requests hang, as in a network partition)."""
    file = head(real_subset, TICKS, tmp_path / "ticks.csv")
    broker = Broker(tmp_path / "tansu.log", s3.storage()).start()
    stack = Stack(root=tmp_path, broker=broker, app_id=f"fb-out-{uuid.uuid4().hex[:6]}", extra_env=S3_WORKER_ENV)
    try:
        worker = stack.start_worker()
        stack.wait_assigned()
        feed = start_feed(stack, file, rate=150)
        wait_for(lambda: stack.row_count() >= TICKS // 4, 240, "a quarter of the rows before the outage")
        os.kill(s3.proc.pid, signal.SIGSTOP)
        try:
            frozen_at = stack.row_count()
            time.sleep(10)
            assert worker.poll() is None
            assert stack.row_count() - frozen_at < TICKS // 4  # the storage outage really held the pipeline
        finally:
            os.kill(s3.proc.pid, signal.SIGCONT)
        assert feed.wait(300) == 0, (stack.root / "feed.log").read_text()[-2000:]
        stack.wait_rows(TICKS, timeout=300)
        figures(stack, TICKS, "S3 storage frozen for 10 s")
        assert worker.poll() is None
        assert_rows_match_offline(stack, file)
    finally:
        stack.stop_all()
        broker.stop()
