"""What the pipeline does when things go wrong, against the real broker, workers, RocksDB and SQLite
(and PostgreSQL, for the tests that take the ``database`` fixture).

Every test ends with the same check as a clean run: exactly one row per input
(symbol, timestamp) and every row's indicators equal to the offline ``features``
output — nothing lost, nothing counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from flameback_app.core.partitioning import partition_for
from flameback_app.core.topics import DEAD_LETTERS
from tests.support.harness import FAUST, REPO, Broker, Stack, free_port, wait_for
from tests.support.pipeline_checks import assert_rows_match_offline, head, input_ticks, read_topic, send_raw, start_feed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # PostgreSQL: the three-worker kill test below
def test_three_sigkills_during_a_50k_tick_replay(stack: Stack, database, real_50k: Path) -> None:
    file = real_50k
    n = len(input_ticks(file))
    assert n == 50_000
    rng = random.Random(2026)
    stack.start_worker()
    stack.wait_assigned()
    feed = start_feed(stack, file, rate=2500)
    for kill, fraction in enumerate(sorted(rng.uniform(0.1, 0.8) for _ in range(3))):
        target = max(fraction * n, stack.row_count() + 1_000)  # each kill after fresh progress
        wait_for(lambda t=target: stack.row_count() >= t, 240, f"{target:.0f} rows before kill {kill + 1}")
        print(f"\nSIGKILL {kill + 1} at {stack.row_count()} rows")
        stack.kill_worker()
        stack.start_worker()
    assert feed.wait(600) == 0
    stack.wait_rows(n, timeout=300)
    assert_rows_match_offline(stack, file)


def test_deleted_state_directory_is_rebuilt_from_the_changelog(stack: Stack, real_subset: Path) -> None:
    file = head(real_subset, 12_000, stack.root / "12k.csv")
    stack.start_worker()
    stack.wait_assigned()
    feed = start_feed(stack, file, rate=1500)
    wait_for(lambda: stack.row_count() >= 5_000, 120, "5,000 rows")
    stack.kill_worker()
    shutil.rmtree(stack.state_dir("w1"))
    stack.start_worker()
    assert feed.wait(300) == 0
    stack.wait_rows(12_000, timeout=300)
    assert_rows_match_offline(stack, file)


def test_replaying_the_same_file_twice_adds_no_rows(stack: Stack, real_subset: Path) -> None:
    file = head(real_subset, 3_000, stack.root / "3k.csv")
    stack.start_worker()
    stack.wait_assigned()
    for _ in range(2):
        stack.run_command("replay", str(file), "--max", "--no-progress")
    wait_for(
        lambda: (c := stack.get_json("w1", "/counters/")) and c["stale_total"] == 3_000,
        120,
        "the second pass to be counted as stale",
    )
    assert stack.row_count() == 3_000
    assert_rows_match_offline(stack, file)


def malformed_payloads(rng: random.Random, count: int, marker: str) -> list[bytes]:
    """Invalid JSON, wrong types, NaN/inf, missing fields, huge strings, 1 MB payloads, binary; bad epoch, seq, volume."""
    makers = [
        lambda i: b"{" + marker.encode() + b" not json",
        lambda i: json.dumps({"symbol": marker, "price": str(i), "timestamp": "2024-01-01"}).encode(),
        lambda i: b'{"symbol": "%s", "price": NaN, "timestamp": "2024-01-01"}' % marker.encode(),
        lambda i: b'{"symbol": "%s", "price": 1e999, "timestamp": "2024-01-01"}' % marker.encode(),
        lambda i: json.dumps({"symbol": marker, "timestamp": "2024-01-01"}).encode(),
        lambda i: json.dumps({"symbol": marker * 200, "price": 1.0, "timestamp": "2024-01-01"}).encode(),
        lambda i: json.dumps({"symbol": "X", "price": 1.0, "timestamp": marker * 10}).encode(),
        lambda i: rng.randbytes(64),
        lambda i: json.dumps([marker, i]).encode(),
        lambda i: json.dumps({"symbol": True, "price": 1.0, "timestamp": "2024-01-01"}).encode(),
        lambda i: json.dumps({"symbol": marker, "price": 1.0, "timestamp": -1 - i}).encode(),
        lambda i: json.dumps({"symbol": marker, "price": 1.0, "timestamp": 10**40 + i}).encode(),
        lambda i: json.dumps({"symbol": marker, "price": 1.0, "timestamp": f"2999-01-01T00:00:{i % 60:02d}"}).encode(),
        lambda i: json.dumps({"symbol": marker, "price": 1e300, "timestamp": "2024-01-01"}).encode(),
        lambda i: json.dumps({"symbol": marker, "price": 1.0, "timestamp": "2024-01-01", "seq": -i - 1}).encode(),
        lambda i: json.dumps({"symbol": marker, "price": 1.0, "timestamp": "2024-01-01", "seq": f"{i}"}).encode(),
        lambda i: json.dumps({"symbol": marker, "price": 1.0, "timestamp": "2024-01-01", "volume": -i - 1}).encode(),
        lambda i: b'{"symbol": "%s", "price": 1, "timestamp": 1704067200, "volume": 1e999}' % marker.encode(),
    ]
    payloads = [makers[i % len(makers)](i) for i in range(count - 3)]
    payloads += [marker.encode() * (1024 * 1024 // len(marker)) for _ in range(3)]  # three 1 MB payloads
    rng.shuffle(payloads)
    return payloads


def good_payload(symbol: str, price: float, iso: str, n: int) -> bytes:
    """A valid tick in one of the spellings producers use: ISO, epoch s/ms/ns, with or without seq and volume."""
    epoch_s = int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())
    stamp = (iso, epoch_s, epoch_s * 1000, epoch_s * 10**9)[n % 4]
    extra = {"seq": n, "volume": float(n % 7)} if n % 3 == 0 else {}
    return json.dumps({"symbol": symbol, "price": price, "timestamp": stamp, **extra}).encode()


def test_a_storm_of_malformed_messages(stack: Stack) -> None:
    stack.start_worker()
    stack.wait_assigned()
    rng = random.Random(7)
    marker = "STORM-7f3a"
    bad = malformed_payloads(rng, 10_000, marker)
    good = [
        (f"STORM{s} Index", 100.0 + i + s, f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}")
        for i in range(1_000)
        for s in range(2)
    ]
    messages: list[tuple[bytes | None, bytes, int | None]] = []
    good_iter = iter(good)
    for i, payload in enumerate(bad):
        messages.append((None, payload, None))
        if i % 5 == 0 and (tick := next(good_iter, None)):
            messages.append((tick[0].encode(), good_payload(*tick, n=i // 5), None))
    bootstrap = stack.broker.url.removeprefix("kafka://")
    asyncio.run(send_raw(bootstrap, messages))
    stack.wait_rows(len(good), timeout=240)
    dead = asyncio.run(read_topic(bootstrap, DEAD_LETTERS, len(bad), timeout=120))
    assert len(dead) == len(bad)
    assert sorted(r.value for r in dead) == sorted(bad)
    assert all(dict(r.headers).get("reason") for r in dead)
    counters = stack.get_json("w1", "/counters/")
    assert counters["rejected_total"] == len(bad)
    assert stack.workers["w1"].poll() is None
    log = (stack.root / "worker-w1.log").read_text()
    assert marker not in log, "untrusted payloads must not be logged"


def test_worker_started_before_the_broker_waits_then_connects(tmp_path: Path, real_subset: Path) -> None:
    broker = Broker(tmp_path / "tansu.log")  # port chosen, not started yet
    stack = Stack(root=tmp_path, broker=broker, app_id="fb-wait")
    try:
        stack.start_worker()
        log = tmp_path / "worker-w1.log"
        wait_for(lambda: "for the Kafka broker at" in log.read_text(), 30, "the waiting log line")
        assert stack.workers["w1"].poll() is None
        broker.start()
        file = head(real_subset, 500, tmp_path / "500.csv")
        stack.run_command("replay", str(file), "--max", "--no-progress")
        stack.wait_rows(500, timeout=120)
        assert "Kafka broker at" in log.read_text() and "is up" in log.read_text()
    finally:
        stack.stop_all()
        broker.stop()


def test_embedded_broker_restart_mid_stream(stack: Stack, real_subset: Path) -> None:
    first = head(real_subset, 4_000, stack.root / "first.csv")
    stack.start_worker()
    stack.wait_assigned()
    stack.run_command("replay", str(first), "--max", "--no-progress")
    stack.wait_rows(4_000, timeout=120)
    log = stack.root / "worker-w1.log"
    stack.broker.stop()  # memory-only: every topic, offset and changelog is gone
    wait_for(lambda: degraded_because(stack, "broker unreachable"), 15, "/health/ 503: broker unreachable")
    stack.broker.start()
    restarted = "restarting this worker to reconnect"
    wait_for(
        lambda: "Worker ready" in log.read_text().partition(restarted)[2],
        60,
        "the worker to notice the new broker, restart itself and be ready again",
    )
    wait_for(lambda: (h := stack.health()) and h["status"] == "ok", 30, "/health/ 200 with the broker back")
    second = stack.root / "second.csv"
    lines = real_subset.read_text().splitlines()
    second.write_text("\n".join([lines[0], *lines[4_001:8_001]]) + "\n")
    stack.run_command("replay", str(second), "--max", "--no-progress")
    stack.wait_rows(8_000, timeout=180)
    both = head(real_subset, 8_000, stack.root / "both.csv")
    assert_rows_match_offline(stack, both)  # state survived in RocksDB: indicators continue exactly


def partition_owners(stack: Stack, workers: tuple[str, ...] = ("w1", "w2")) -> dict[str, set[str]] | None:
    """futures-ticks partitions per worker, or None while a worker does not answer (rebalancing)."""
    health = {w: stack.health(w) for w in workers}
    if not all(health.values()):
        return None
    return {w: {a for a in h["assigned"] if a.startswith("futures-ticks/")} for w, h in health.items()}


def test_table_route_answers_from_the_worker_that_owns_the_symbol(stack: Stack) -> None:
    stack.start_worker("w1")
    stack.start_worker("w2")
    owners = wait_for(
        lambda: (o := partition_owners(stack)) and o["w1"] and o["w2"] and o, 90, "both workers to own partitions"
    )
    owner_of = {int(tp.split("/")[1]): w for w, tps in owners.items() for tp in tps}
    symbols = {}  # one symbol per partition, so both workers hold some
    for i in range(1000):
        name = f"ROUTE{i} Index"
        symbols.setdefault(partition_for(name, stack.partitions), name)
    file = stack.root / "route.csv"
    file.write_text(
        "symbol,price,timestamp\n"
        + "".join(f"{name},{100 + day},2024-01-{day + 1:02d}\n" for day in range(3) for name in symbols.values())
    )
    stack.run_command("replay", str(file), "--max", "--no-progress")
    stack.wait_rows(3 * len(symbols), timeout=120)
    web = {w: f"http://127.0.0.1:{stack.web_ports[w]}" for w in ("w1", "w2")}
    for partition, name in symbols.items():
        for asked in ("w1", "w2"):
            state = wait_for(
                lambda a=asked, n=name: stack.get_json(a, "/state/" + n.replace(" ", "%20") + "/"),
                30,
                f"{name} from {asked}",
            )
            assert state["symbol"] == name and state["ticks"] == 3
            assert state["served_by"] == web[owner_of[partition]]  # answered by the owner, whoever was asked


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_three_workers_share_partitions_and_the_last_survivor_takes_them_all(
    stack: Stack, database, real_subset: Path
) -> None:
    """Three workers on one broker and one PostgreSQL; kill one, then another: the survivor holds every partition."""
    workers = ("w1", "w2", "w3")
    file = head(real_subset, 16_000, stack.root / "16k.csv")
    for name in workers:
        stack.start_worker(name)
    owners = wait_for(
        lambda: (o := partition_owners(stack, workers)) and all(o.values()) and o,
        120,
        "all three workers to own futures-ticks partitions",
    )
    assert not (owners["w1"] & owners["w2"] or owners["w1"] & owners["w3"] or owners["w2"] & owners["w3"])
    assert set().union(*owners.values()) == {f"futures-ticks/{p}" for p in range(stack.partitions)}
    ids = {w: stack.get_json(w, "/counters/")["worker"] for w in workers}
    assert len(set(ids.values())) == 3, ids  # each worker reports under its own id
    feed = start_feed(stack, file, rate=1500)
    wait_for(lambda: stack.row_count() >= 5_000, 120, "5,000 rows")
    stack.kill_worker("w2")
    wait_for(lambda: stack.row_count() >= 9_000, 120, "9,000 rows after the first kill")
    stack.kill_worker("w3")
    assert feed.wait(300) == 0
    stack.wait_rows(16_000, timeout=150)
    survivor = wait_for(
        lambda: (o := partition_owners(stack, ("w1",))) and len(o["w1"]) == stack.partitions and o,
        60,
        "the survivor to hold every futures-ticks partition",
    )
    assert survivor["w1"] == {f"futures-ticks/{p}" for p in range(stack.partitions)}
    assert_rows_match_offline(stack, file)
    expected = {"", "all (1 current)", ids["w1"], f"{ids['w2']} (stale)", f"{ids['w3']} (stale)"}
    wait_for(
        lambda: set(health_panel_header(stack.database_url)) == expected,
        20,
        f"the terminal's health panel to show {expected}",
    )


def health_panel_header(url: str) -> list[str]:
    """The column heads of the terminal's pipeline-health panel (workers, stale ones marked), read as it reads them."""
    from dashboard.callbacks import Source, health_update
    from dashboard.queries import reader_engine

    engine = reader_engine(url)
    try:
        panel = health_update(Source(url, engine, {}, 50, stale_after_s=5.0))[0]
    finally:
        engine.dispose()
    return [str(cell.children) for cell in panel.children[0].children] if hasattr(panel, "children") else []


def test_servers_bind_loopback_only(stack: Stack) -> None:
    worker = stack.start_worker()
    stack.wait_assigned()
    listening = [
        c.laddr
        for p in [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(recursive=True)]
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening and all(addr.ip in ("127.0.0.1", "::1") for addr in listening), listening
    broker_sockets = [
        c.laddr
        for c in psutil.Process(stack.broker.proc.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert broker_sockets and all(addr.ip == "127.0.0.1" for addr in broker_sockets), broker_sockets


@contextmanager
def exclusive_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """What a careless reader can do: hold the database's write lock (here for as long as the block runs)."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")
        conn.close()


def test_a_reader_locking_the_database_for_5s_delays_rows_but_loses_none(stack: Stack, real_subset: Path) -> None:
    file = head(real_subset, 3_000, stack.root / "3k.csv")
    stack.start_worker()
    stack.wait_assigned()
    feed = start_feed(stack, file, rate=400)
    wait_for(lambda: stack.row_count() >= 300, 60, "300 rows before the lock")
    with exclusive_lock(stack.db_path) as conn:
        before = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        time.sleep(5)
        during = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
    assert during == before  # the lock really held the writer back for 5 s
    assert feed.wait(120) == 0
    stack.wait_rows(3_000, timeout=120)
    assert_rows_match_offline(stack, file)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 32 MB filesystem (tmpfs) to fill up; needs permission to mount."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)]
    mounted = subprocess.run(mount, check=False, capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); needs root")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> None:
    with (disk / "filler").open("wb") as handle, contextlib.suppress(OSError):  # ENOSPC: the disk is full
        while True:
            handle.write(b"\0" * (1 << 20))
            handle.flush()


def split_at(file: Path, n: int, root: Path) -> tuple[Path, Path]:
    """The first ``n`` ticks of a long-layout file, and the rest."""
    lines = file.read_text().splitlines()
    first, rest = root / "first.csv", root / "rest.csv"
    first.write_text("\n".join(lines[: n + 1]) + "\n")
    rest.write_text("\n".join([lines[0], *lines[n + 1 :]]) + "\n")
    return first, rest


def assert_clear_error_and_no_spin(stack: Stack, worker: subprocess.Popen, rows: int, expect: str) -> None:
    """The worker says why it cannot write, backs off instead of spinning, and stays up with nothing half-written.

    The CPU is measured from the fourth failed attempt on (backoff 4 s and more): once, a
    6 s window right after the first failure caught 4 s of start-up work of a worker
    that had been up for 2 s.
    """
    log = stack.root / "worker-w1.log"
    wait_for(lambda: "database write failed" in log.read_text(), 60, "the worker to report the failed write")
    reason = re.search(r"database write failed \((.*?)\)", log.read_text()).group(1)
    assert expect in reason, reason
    wait_for(lambda: "attempt 4," in log.read_text(), 30, "the fourth failed attempt")  # start-up work is over
    times = psutil.Process(worker.pid).cpu_times()
    spent = times.user + times.system
    time.sleep(8)
    times = psutil.Process(worker.pid).cpu_times()
    used = times.user + times.system - spent
    print(f"worker CPU while the database refuses writes: {used:.2f} s in 8 s")
    assert used < 4.0, f"the worker must back off, not spin ({used:.2f} s CPU in 8 s; a retry loop uses ~8)"
    assert worker.poll() is None and stack.row_count() == rows


def test_a_full_disk_is_a_clear_error_and_loses_nothing(
    tmp_path: Path, broker: Broker, small_disk: Path, real_subset: Path
) -> None:
    stack = Stack(root=tmp_path, broker=broker, app_id="fb-disk-full", db_file=small_disk / "fb.db")
    file = head(real_subset, 3_000, tmp_path / "3k.csv")
    first, rest = split_at(file, 1_000, tmp_path)
    try:
        worker = stack.start_worker()
        stack.wait_assigned()
        stack.run_command("replay", str(first), "--max", "--no-progress")
        stack.wait_rows(1_000, timeout=120)
        fill(small_disk)
        stack.run_command("replay", str(rest), "--max", "--no-progress")
        assert_clear_error_and_no_spin(stack, worker, 1_000, expect="full")
        (small_disk / "filler").unlink()
        stack.wait_rows(3_000, timeout=150)  # the batch was never acknowledged: it is retried and stored
        assert_rows_match_offline(stack, file)
    finally:
        stack.stop_all()


def test_a_read_only_database_is_a_clear_error_and_loses_nothing(stack: Stack, real_subset: Path) -> None:
    file = head(real_subset, 3_000, stack.root / "3k.csv")
    first, rest = split_at(file, 1_000, stack.root)
    stack.start_worker()
    stack.wait_assigned()
    stack.run_command("replay", str(first), "--max", "--no-progress")
    stack.wait_rows(1_000, timeout=120)
    stack.kill_worker()
    read_only = f"sqlite:///file:{stack.db_path}?mode=ro&uri=true"
    worker = stack.start_worker(FLAMEBACK_DB_URL=read_only)  # e.g. a file or mount the worker may not write
    stack.run_command("replay", str(rest), "--max", "--no-progress")
    assert_clear_error_and_no_spin(stack, worker, 1_000, expect="readonly")
    stack.kill_worker()
    stack.start_worker()  # the operator fixes it; nothing was acknowledged, so Kafka still has every tick
    stack.wait_rows(3_000, timeout=150)
    assert_rows_match_offline(stack, file)


@pytest.fixture
def own_postgres() -> Iterator[object]:
    """A PostgreSQL server of this test's own, to stop and start (the session's server is shared)."""
    from tests.conftest import _unavailable
    from tests.support.postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer(durable=False).start()
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
    yield server
    server.stop()


def degraded_because(stack: Stack, words: str) -> dict | None:
    """``/health/``'s answer while it says degraded (503) with a reason containing ``words``."""
    health = stack.health()
    if health and health["status"] == "degraded" and any(words in r for r in health["reasons"]):
        return health
    return None


def scrape(stack: Stack, name: str = "w1") -> dict[str, float]:
    """A worker's ``/metrics``, parsed by prometheus_client: sample name (+ labels) → value."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{stack.web_ports[name]}/metrics", timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    return {
        s.name + "".join(f"|{k}={v}" for k, v in sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def source_lag(samples: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in samples.items() if k.startswith("flameback_consumer_lag|") and "futures-ticks" in k}


def test_postgresql_down_at_start_and_mid_replay(
    broker: Broker, tmp_path: Path, own_postgres, real_subset: Path
) -> None:
    """Down at start: the worker waits, then starts. Down mid-replay: 503 with the reason, then it resumes by itself."""
    url = own_postgres.create_database("flameback")
    stack = Stack(
        root=tmp_path,
        broker=broker,
        app_id="fb-pg-outage",
        db_url=url,
        extra_env={"FLAMEBACK_HEALTH_DB_FAILING_S": "1"},
    )
    file = head(real_subset, 6_000, tmp_path / "6k.csv")
    log = tmp_path / "worker-w1.log"
    try:
        own_postgres.halt()
        worker = stack.start_worker()
        wait_for(lambda: "waiting up to 60s for the database at" in log.read_text(), 30, "the waiting line")
        time.sleep(2)
        assert worker.poll() is None
        own_postgres.resume()
        stack.wait_assigned(timeout=90)
        assert "is up after" in log.read_text()
        feed = start_feed(stack, file, rate=1000)
        wait_for(lambda: stack.row_count() >= 1_500, 60, "1,500 rows before the outage")
        own_postgres.halt()
        degraded = wait_for(lambda: degraded_because(stack, "database writes failing"), 30, "/health/ 503")
        print(f"\n/health/ during the outage: {degraded['reasons']}")
        assert own_postgres.password not in json.dumps(degraded)
        wait_for(lambda: sum(source_lag(scrape(stack)).values()) > 0, 10, "consumer lag to grow during the outage")
        time.sleep(3)
        assert worker.poll() is None
        own_postgres.resume()
        assert feed.wait(120) == 0
        stack.wait_rows(6_000, timeout=120)
        wait_for(lambda: (h := stack.health()) and h["status"] == "ok" and not h["reasons"], 30, "/health/ 200 again")
        assert_rows_match_offline(stack, file)
        metrics = scrape(stack)
        assert metrics["flameback_rows_written_total"] == 6_000 == metrics["flameback_ticks_processed_total"]
        assert metrics["flameback_tick_to_row_latency_seconds_count"] == 6_000  # one per stored row
        assert metrics["flameback_db_write_failures_total"] >= 1
        wait_for(lambda: (lag := source_lag(scrape(stack))) and not any(lag.values()), 30, "consumer lag back to 0")
        text = log.read_text()
        assert "database write failed" in text
        assert own_postgres.password not in text
    finally:
        stack.stop_all()


def test_a_bad_database_password_or_name_is_one_line_and_exit_1(tmp_path: Path, postgres_server) -> None:
    """What waiting cannot fix is said at once: a bad password, a database that does not exist; a server that
    never answers, after FLAMEBACK_DB_WAIT_S."""
    good = postgres_server.url("postgres")
    wrong_password = good.replace(postgres_server.password, "not-the-password-3c9e")
    no_such_database = good.rsplit("/", 1)[0] + "/no_such_database"
    stack = Stack(root=tmp_path, broker=Broker(tmp_path / "tansu.log"), app_id="fb-bad-db")  # never started
    for url, expect in ((wrong_password, "password authentication failed"), (no_such_database, "does not exist")):
        started = time.monotonic()
        done = subprocess.run(
            [*FAUST, "worker"],
            cwd=REPO,
            env=stack.env(FLAMEBACK_DB_URL=url),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 1, output
        errors = [line for line in output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and expect in errors[0], output
        assert "waiting" not in output and time.monotonic() - started < 30
        assert postgres_server.password not in output and "not-the-password-3c9e" not in output
    nobody_listens = good.replace(f":{postgres_server.port}/", f":{free_port()}/")
    done = subprocess.run(
        [*FAUST, "worker"],
        cwd=REPO,
        env=stack.env(FLAMEBACK_DB_URL=nobody_listens, FLAMEBACK_DB_WAIT_S="2"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "waiting up to 2s for the database at" in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "no database server answered at" in errors[0] and "within 2s" in errors[0], output
    assert postgres_server.password not in output
