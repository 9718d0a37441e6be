"""One focused test per fix in ``flameback_app.kafka.faust_fixes``, each run with and without the fix.

The races these fixes answer (a fetch outliving a rebalance, a batch cut by a crash, a
broker SIGKILLed) cannot be forced on demand, so each test builds the state the race
leaves behind — a fetched batch that jumps, an acknowledgement of an unmarked message,
a refused metadata connection — with Faust's and aiokafka's real classes, stubbing
only what would talk to a broker (the consumer thread's seek, the fetch, a connection).
The random-kill tests in ``tests/e2e/test_resilience.py`` exercise the real races.

Each test runs twice: ``fixed`` (this app's classes) must pass, and ``unfixed`` (Faust's
or aiokafka's own class, same stubs) is a strict xfail — the test is known to catch
the bug it is about, and stops the suite if it ever no longer does.
"""

from __future__ import annotations

import asyncio
import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.metadata import MetadataResponse_v0
from faust.types import TP, Message

from flameback_app.kafka.faust_fixes import clients, versions
from flameback_app.kafka.faust_fixes.acks import mark_processed
from flameback_app.kafka.faust_fixes.recovery import TableManager
from flameback_app.kafka.faust_fixes.transport import FixedTransportApp, FixesConfig

SOURCE = "source-topic"
TP0 = TP(SOURCE, 0)
FETCH_WAIT_MS = 7

FIXED = "fixed"
UNFIXED = pytest.param(
    "unfixed",
    marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason="Faust's/aiokafka's own class has the bug"),
)


@pytest.fixture(params=[FIXED, UNFIXED])
def variant(request: pytest.FixtureRequest) -> str:
    return request.param


def build_app(variant: str) -> faust.App:
    """An app on an unreachable broker (nothing connects): ours with the fixes, or plain Faust."""
    if variant == FIXED:
        return FixedTransportApp(
            "fixes-test",
            broker="kafka://127.0.0.1:1",
            TableManager=TableManager,
            faust_fixes=FixesConfig(source_topics={SOURCE}, fetch_max_wait_ms=FETCH_WAIT_MS),
        )
    return faust.App("fixes-test", broker="kafka://127.0.0.1:1")


@pytest.fixture
def app(variant: str) -> faust.App:
    app = build_app(variant)
    app.topics._acking_topics.add(SOURCE)  # as once the worker subscribes an agent to SOURCE
    return app


@pytest.fixture
def consumer(app: faust.App, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app's consumer with its thread's seek stubbed (the thread is not started here): seeks are recorded."""
    consumer = app.consumer
    consumer.seeks = []

    async def seek_in_thread(tp: TP, offset: int) -> None:
        consumer.seeks.append((tp, offset))

    monkeypatch.setattr(consumer, "_seek", seek_in_thread)
    return consumer


def message(app: faust.App, offset: int, *, generation_id: int | None = None) -> Message:
    generation = app.consumer_generation_id if generation_id is None else generation_id
    return Message(SOURCE, 0, offset, 0.0, 0, None, b"key", b"value", None, generation_id=generation)


def processed(*messages: Message) -> None:
    mark_processed([SimpleNamespace(message=m) for m in messages])  # type: ignore[misc] - a stand-in event: mark_processed reads only .message


def test_an_acknowledgement_of_an_unprocessed_message_commits_nothing(app: faust.App, consumer: Any) -> None:
    """``take_events`` acks its whole batch in a ``finally``, also when the agent raised half way.

    Without the fix the ack of a message no agent marked counts, and its offset is committed.
    """
    crashed = message(app, 5)
    consumer.track_message(crashed)

    assert consumer.ack(crashed) is False
    assert consumer._new_offset(TP0) is None
    assert crashed not in consumer._unacked_messages  # released: shutdown does not wait for it

    processed(crashed)
    assert consumer.ack(crashed) is True
    assert consumer._new_offset(TP0) == 6


def test_a_message_from_an_earlier_consumer_generation_is_not_acknowledged(app: faust.App, consumer: Any) -> None:
    """The stream skips (and acks) messages fetched before a rebalance; their offsets must stay uncommitted."""
    app.consumer_generation_id = 3
    stale = message(app, 5, generation_id=2)
    processed(stale)

    assert consumer.ack(stale) is False
    assert consumer._new_offset(TP0) is None


def test_offsets_the_consumer_jumped_over_are_not_committed(app: faust.App, consumer: Any) -> None:
    """A jump from offset 4 to 10 was Faust's own seek, not compaction: 5..9 were never processed.

    Without the fix Faust records 5..9 as a gap, counts it as acknowledged, and commits 11.
    """
    consumer._committed_offset[TP0] = 4
    asyncio.run(consumer._add_gap(TP0, 5, 9))
    after_the_jump = message(app, 10)
    processed(after_the_jump)
    consumer.ack(after_the_jump)

    assert consumer._new_offset(TP0) is None  # nothing past 4 may be committed until 5..9 are processed


class Fetches:
    """Stands in for aiokafka's fetcher: hands out prepared batches of offsets, one per fetch."""

    def __init__(self, consumer: Any, *batches: list[int]) -> None:
        self.batches = list(batches)
        consumer._wait_next_records = self.next_records
        consumer._to_message = lambda tp, offset: message(consumer.app, offset)
        consumer.highwater = lambda tp: 10_000

    async def next_records(self, timeout: float) -> tuple[dict[TP, list[int]], None]:
        return {TP0: self.batches.pop(0)}, None


def delivered(consumer: Any) -> list[int]:
    """One fetch's offsets as Faust's ``_drain_messages`` takes them, moving the read offset the way it does."""

    async def one_fetch() -> list[int]:
        offsets = []
        async for tp, m in consumer.getmany(timeout=1.0):
            read_offset = consumer._read_offset.get(tp)
            if read_offset is None or m.offset >= read_offset:
                consumer._read_offset[tp] = m.offset
            offsets.append(m.offset)
        return offsets

    return asyncio.run(one_fetch())


def test_a_fetch_from_before_a_rebalance_is_read_again_in_order(consumer: Any) -> None:
    """The last record read was 100; a fetch parked over a rebalance hands over 150.. from the old position.

    Without the fix 150 and 151 reach the agents, and 101..149 are jumped over.
    """
    consumer._read_offset[TP0] = 100
    Fetches(consumer, [150, 151], [101, 102])

    assert delivered(consumer) == []
    assert consumer.seeks == [(TP0, 101)]
    assert delivered(consumer) == [101, 102]


def test_a_jump_that_repeats_after_reading_again_is_real_and_goes_through() -> None:
    """A transaction marker leaves a real gap: it is seen again after the seek back, and then delivered."""
    app = build_app(FIXED)
    consumer = app.consumer
    consumer._seek = _no_thread_seek
    consumer._read_offset[TP0] = 100
    Fetches(consumer, [150], [150, 151])

    assert delivered(consumer) == []
    assert delivered(consumer) == [150, 151]


async def _no_thread_seek(tp: TP, offset: int) -> None:
    return None


@pytest.fixture
def recovering(app: faust.App, consumer: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bool]]]:
    """A rebalance's end: TP0 assigned and paused, its committed offset 42. Yields (step, TP0 active?) records."""
    steps: list[tuple[str, bool]] = []

    def active() -> bool:
        return TP0 in consumer._get_active_partitions()

    async def seek_to_committed() -> dict[TP, int]:
        steps.append(("seek to committed", active()))
        return {TP0: 42}

    resume_flow_control = app.flow_control.resume

    def clear_queues_and_resume() -> None:
        steps.append(("flow control resumed (queues cleared)", active()))
        resume_flow_control()

    async def no_fetcher() -> None:
        return None

    async def wait_unless_recovery_restarts(coro: Any, timeout: float | None = None) -> None:
        await coro  # Recovery._wait races the coroutine against a restart signal on the service's own loop

    monkeypatch.setattr(consumer, "assignment", lambda: {TP0})
    monkeypatch.setattr(consumer, "seek_to_committed", seek_to_committed)
    monkeypatch.setattr(app.flow_control, "resume", clear_queues_and_resume)
    monkeypatch.setattr(app._fetcher, "maybe_start", no_fetcher)
    monkeypatch.setattr(app.tables.recovery, "_wait", wait_unless_recovery_restarts)
    consumer.pause_partitions({TP0})
    yield steps
    steps.append(("end", active()))


def test_partitions_resume_only_after_the_queues_were_cleared_and_sought_again(
    app: faust.App, consumer: Any, recovering: list[tuple[str, bool]]
) -> None:
    """Faust resumes fetching, then seeks, then clears the queues: what was fetched between is lost.

    Without the fix TP0 is already fetching when the queues are cleared, and no seek follows.
    """
    asyncio.run(app.tables.recovery.on_recovery_completed(generation_id=app.consumer_generation_id))

    assert ("flow control resumed (queues cleared)", False) in recovering  # TP0 still paused then
    cleared = recovering.index(("flow control resumed (queues cleared)", False))
    assert ("seek to committed", False) in recovering[cleared + 1 :]
    assert all(not was_active for _, was_active in recovering)
    assert TP0 in consumer._get_active_partitions()


def test_the_consumer_waits_the_configured_time_for_an_empty_fetch(app: faust.App) -> None:
    """Faust hard-codes ``fetch_max_wait_ms=1500``; the embedded broker sleeps it out on every empty fetch."""

    async def fetch_wait_ms() -> int:
        aiokafka_consumer = app.consumer._thread._create_consumer(asyncio.get_running_loop())
        await aiokafka_consumer.stop()  # never started: only releases the client
        return aiokafka_consumer._fetch_max_wait_ms

    assert asyncio.run(fetch_wait_ms()) == FETCH_WAIT_MS


def test_the_consumer_and_producer_clients_carry_the_client_fixes(app: faust.App) -> None:
    """aiokafka builds its client inline; the transport's consumer and producer must both get ours."""

    async def create() -> tuple[Any, Any]:
        consumer = app.consumer._thread._create_consumer(asyncio.get_running_loop())
        producer = app.producer._new_producer()
        await consumer.stop()  # neither was started: this only releases their clients
        await producer.stop()
        return consumer._client, producer.client

    consumer_client, producer_client = asyncio.run(create())

    assert isinstance(consumer_client, clients.FixedClient)
    assert isinstance(producer_client, clients.FixedClient)


def metadata(broker: tuple[int, str, int], *topics: str) -> Any:
    """A version-0 metadata answer: one broker, topics of one partition it leads."""
    node_id = broker[0]
    return MetadataResponse_v0(
        brokers=[broker], topics=[(0, t, [(0, 0, node_id, [node_id], [node_id])]) for t in topics]
    )


def client(variant: str, bootstrap: list[str]) -> AIOKafkaClient:
    plain = AIOKafkaClient(bootstrap_servers=bootstrap)
    return clients.use_fixed_client(plain) if variant == FIXED else plain


def test_a_client_keeps_the_topics_it_knew_when_it_learns_a_new_one(variant: str) -> None:
    """A producer knows every topic from "all topics" metadata; its first send to a new topic names only that one.

    Without the fix the tracked set becomes just the new topic, and the others drop out of
    the next metadata refresh (their pending batches then have no leader).
    """

    async def scenario() -> set[str]:
        kafka = client(variant, ["127.0.0.1:1"])
        kafka.cluster.update_metadata(metadata((111, "127.0.0.1", 1), "ticks", "ticks-changelog"))
        kafka.add_topic("created-later")
        await kafka.close()
        return set(kafka._topics)

    assert asyncio.run(scenario()) == {"ticks", "ticks-changelog", "created-later"}


def test_when_no_known_broker_answers_the_bootstrap_addresses_are_asked_again(
    variant: str, monkeypatch: pytest.MonkeyPatch, unused_port: int
) -> None:
    """Broker A (node 111, the only one the metadata names) is gone; broker B, also on the bootstrap list, serves.

    aiokafka's own refresh really connects to A (refused on loopback); the bootstrap addresses
    are stubbed (``create_conn``): A refuses, B answers naming itself node 111.
    Without the fix the refresh fails and the client keeps retrying A.
    """
    broker_b = ("127.0.0.1", 19092)

    async def create_conn(host: str, port: int, **kwargs: Any) -> Any:
        if (host, port) != broker_b:
            raise OSError("connection refused")
        return SimpleNamespace(send=_answer_from_b, close=lambda: None)

    async def _answer_from_b(request: Any) -> Any:
        return metadata((111, *broker_b), SOURCE)

    monkeypatch.setattr(clients, "create_conn", create_conn)

    async def scenario() -> tuple[bool, Any]:
        kafka = client(variant, [f"127.0.0.1:{unused_port}", f"{broker_b[0]}:{broker_b[1]}"])
        kafka.cluster.update_metadata(metadata((111, "127.0.0.1", unused_port), SOURCE))
        refreshed = await kafka._metadata_update(kafka.cluster, [SOURCE])
        await kafka.close()
        return refreshed, kafka.cluster.broker_metadata(111)

    refreshed, node_111 = asyncio.run(scenario())

    assert refreshed is True
    assert (node_111.host, node_111.port) == broker_b


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_version_guard_refuses_other_versions_in_one_line() -> None:
    found = {**versions.TESTED_VERSIONS, "aiokafka": "0.13.0"}

    line = versions.version_mismatch_line(found.__getitem__)

    assert line is not None and "\n" not in line
    assert line.startswith(
        "Error: flameback's Faust fixes were written for faust-streaming==0.15.3, "
        "mode-streaming==0.7.1, aiokafka==0.14.0; found "
    )
    assert "aiokafka==0.13.0" in line
    assert versions.version_mismatch_line(dict(versions.TESTED_VERSIONS).__getitem__) is None


def test_building_the_app_on_an_untested_version_exits_with_that_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard runs first thing in ``create_app``: nothing is built, one ``Error:`` line, exit status 1."""
    app_module = importlib.import_module("flameback_app.faust_app")
    monkeypatch.setattr(
        versions, "version", lambda name: "9.9.9" if name == "faust-streaming" else versions.TESTED_VERSIONS[name]
    )

    with pytest.raises(SystemExit) as exited:
        app_module.create_app(app_module.settings)

    assert str(exited.value).startswith("Error: flameback's Faust fixes were written for")
    assert "found faust-streaming==9.9.9, mode-streaming==0.7.1, aiokafka==0.14.0" in str(exited.value)


def test_the_installed_versions_are_the_tested_ones_and_the_pinned_ones() -> None:
    """The guard's versions move with ``constraints.txt`` (the setup installs from it)."""
    constraints = (Path(__file__).resolve().parents[3] / "constraints.txt").read_text()
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", constraints, flags=re.MULTILINE))

    assert {name: pinned.get(name) for name in versions.TESTED_VERSIONS} == dict(versions.TESTED_VERSIONS)
    assert versions.version_mismatch_line() is None
