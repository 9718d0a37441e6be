"""End-to-end benchmark: replay → embedded broker → worker (all agents, 4 models, 5 rules) → SQLite rows.

Prints, for this machine and this run:
- sustained throughput: the whole 2001–2019 file (or a generated one) replayed at full
  speed, ticks/s from the first send to the last database row, and the worker's peak RSS —
  with the feed's default packing (up to 64 ticks of a symbol per Kafka message), with one
  tick per message (what any plain producer sends), and packed with two workers;
- tick → row latency p50/p99 at a fixed offered rate (``latency_ms``: the time the feed
  offered the tick — the Kafka timestamp, set to the first tick's offer time of a packed
  message — to its row handed to the database, so the feed's 20 ms linger is included);
- the baseline, measured the same way on the same broker: a re-creation of the original
  architecture (``bench/original_arch.py``: a plain consumer per stage, recompute-from-deque
  indicators, one-row-at-a-time model calls and SQLite commits).

With ``--databases``, instead: the packed full-speed run and the paced run on a SQLite
file and on PostgreSQL, in one run — a throwaway PostgreSQL server on this machine
(``tests/support/postgres.py``: Debian's server, default durability, fsync on), each figure
beside SQLite's.

With ``--baseline-ref REF`` (e.g. ``b5be3ab``), instead: REF's code, extracted with
``git archive``, against this tree, case by case in one run — one tick per message and
packed at full speed (``--ticks``, default 60,000), worker CPU per 1,000 ticks, and
latency at 40 % of this tree's one-per-message capacity and at ``--rate``, one tick per
message. ``--profile FILE`` records the worker with py-spy through a one-tick-per-message
run and prints where its time goes per 1,000 ticks (with ``--baseline-ref``, REF's first).

    .venv/bin/python -m bench.pipeline [--ticks N] [--rate 1000] [--latency-seconds 20] [--databases [--repeat 3]]
    .venv/bin/python -m bench.pipeline --baseline-ref b5be3ab [--ticks 60000] [--latency-seconds 15]
    .venv/bin/python -m bench.pipeline --profile /tmp/worker.raw [--baseline-ref b5be3ab] [--ticks 20000]
    .venv/bin/python -m bench.pipeline --retrain [--ticks 100000] [--repeat 3]

With ``--retrain``, instead: the packed full-speed run without a retrain, then while a
retrain runs the whole time (``bench/retrain_load.py``: the worker's training child's
work in a loop, at its lower priority and bounded threads), then while one runs at the
worker's own priority with 2 threads — ticks/s of each against the first, in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from bench.worker_profile import PySpyRecorder, by_stage, summarise
from flameback_app.broker.embedded import ensure_topics
from flameback_app.kafka.kafka_client import kafka_client_config
from flameback_app.storage.db import predictions
from models.registry import FORMAT as ARTIFACT_FORMAT
from tests.support.harness import FAUST, REAL_FILE, REPO, Broker, Stack, settings_from_env, wait_for

CACHE = Path(tempfile.gettempdir()) / "flameback-bench"


def tick_file(limit: int | None) -> Path:
    """The real file as a long CSV (first ``limit`` ticks), or a generated walk if it is absent."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"ticks-{limit or 'all'}.csv"
    if not path.exists():
        from tests.support.market_data import generated_rows, write_long_csv

        if REAL_FILE.exists():
            from flameback_app.core.ticks_csv import read_ticks

            rows = [(t.tick.symbol, t.tick.price, t.tick.timestamp.isoformat()) for t in read_ticks(REAL_FILE)]
            rows.sort(key=lambda r: r[2])
        else:
            rows = generated_rows(tuple(f"SYM{i} Index" for i in range(39)), days=4956)
        write_long_csv(path, rows[:limit] if limit else rows)
    return path


def trained_models(code_dir: Path = REPO) -> Path:
    """A model version to run with, trained once on 40,000 ticks by ``code_dir``'s own ``train`` and cached.

    This tree's versions are cached in /tmp, one cache per artifact format (checkouts
    from before the skops format share /tmp and would neither load nor write the
    other's versions); another commit's tree (``--baseline-ref``) gets versions of its
    own format, trained into that tree.
    """
    models = CACHE / f"models-format{ARTIFACT_FORMAT}" if code_dir == REPO else code_dir / ".bench-models"
    if not any(models.glob("*/manifest.json")):
        print(f"training a model version for the benchmark with {code_dir} (once, cached)…", file=sys.stderr)
        env = {**os.environ, "PYTHONPATH": str(code_dir)} if code_dir != REPO else None
        subprocess.run(
            [*FAUST, "train", str(tick_file(40_000)), "--out", str(models)],
            cwd=code_dir,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return models


class PeakRss:
    """Samples a process's resident memory every 0.2 s in a thread."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> float:
        self._stop.set()
        return self.peak / 2**20


def flameback_run(
    root: Path,
    file: Path,
    n: int,
    rate: float | None,
    pack: int = 64,
    workers: int = 1,
    db_url: str | None = None,
    code_dir: Path = REPO,
    profile: Path | None = None,
) -> dict:
    """A fresh broker and worker(s) (topics are shared by name, so every run gets its own broker).

    The database is a new SQLite file in ``root``, or ``db_url`` (an empty database).
    ``code_dir`` is the source tree the worker and the feed run (another commit's, for a
    same-run baseline); ``profile``: record the (first) worker with py-spy into that file.
    """
    root.mkdir(parents=True, exist_ok=True)
    broker = Broker(root / "tansu.log").start()
    try:
        return _flameback_run(root, broker, file, n, rate, pack, workers, db_url, code_dir, profile)
    finally:
        broker.stop()


def _flameback_run(
    root: Path,
    broker: Broker,
    file: Path,
    n: int,
    rate: float | None,
    pack: int,
    workers: int,
    db_url: str | None,
    code_dir: Path,
    profile: Path | None,
) -> dict:
    stack = Stack(
        root=root,
        broker=broker,
        app_id=f"bench-{uuid.uuid4().hex[:6]}",
        db_url=db_url,
        extra_env={"FLAMEBACK_MODELS_DIR": str(trained_models(code_dir))},
        code_dir=code_dir,
    )
    names = [f"w{i + 1}" for i in range(workers)]
    pids = [stack.start_worker(name).pid for name in names]
    rss = [PeakRss(pid) for pid in pids]
    for name in names:  # the clock starts once each worker owns partitions and has loaded its models
        wait_for(
            lambda w=name: (
                (h := stack.health(w))
                and h.get("model_version")
                and any(a.startswith("futures-ticks") for a in h["assigned"])
            ),
            120,
            f"worker {name} to own futures-ticks partitions and load its models",
        )
    recorder = PySpyRecorder(pids[0], profile) if profile else None
    cpu_before, broker_before = sum(_cpu_s(pid) for pid in pids), _cpu_s(broker.proc.pid)
    feed_before = _children_cpu_s()
    started = time.monotonic()
    args = ["replay", str(file), "--no-progress", "--pack", str(pack), *(["--rate", str(rate)] if rate else ["--max"])]
    stack.run_command(*args, timeout=1800)
    feed_cpu = _children_cpu_s() - feed_before
    stack.wait_rows(n, timeout=1800)
    elapsed = time.monotonic() - started
    cpu = sum(_cpu_s(pid) for pid in pids) - cpu_before
    broker_cpu = _cpu_s(broker.proc.pid) - broker_before
    if recorder:
        recorder.stop()
    peak = max(r.stop() for r in rss)
    latencies = _latencies(stack.database_url)
    stack.stop_all()
    return {
        "elapsed_s": elapsed,
        "ticks_per_s": n / elapsed,
        "rss_mb": peak,
        "worker_cpu_ms_per_1000": cpu * 1e6 / n,
        "feed_cpu_ms_per_1000": feed_cpu * 1e6 / n,
        "broker_cpu_ms_per_1000": broker_cpu * 1e6 / n,
        **latencies,
    }


def _children_cpu_s() -> float:
    """CPU seconds of this process's finished children (the feed, run to completion)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _latencies(url: str) -> dict[str, float]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        stmt = select(predictions.c.latency_ms).where(predictions.c.latency_ms.is_not(None))
        values = sorted(conn.execute(stmt).scalars())
    engine.dispose()
    if not values:
        return {}
    return {"p50_ms": values[len(values) // 2], "p99_ms": values[int(len(values) * 0.99)]}


def baseline_run(root: Path, file: Path, seconds: float) -> dict:
    """The original architecture on its own broker: rows/s it stores while a backlog waits."""
    root.mkdir(parents=True, exist_ok=True)
    broker = Broker(root / "tansu.log").start()
    try:
        return _baseline_run(root, broker, file, seconds)
    finally:
        broker.stop()


def _baseline_run(root: Path, broker: Broker, file: Path, seconds: float) -> dict:
    env = {**os.environ, "FLAMEBACK_BROKER": broker.url}
    kafka = kafka_client_config(settings_from_env(env))
    source, features = f"base-ticks-{uuid.uuid4().hex[:6]}", f"base-features-{uuid.uuid4().hex[:6]}"
    asyncio.run(ensure_topics(list(kafka.bootstrap), {source: 4, features: 4}, security=kafka.security_kwargs()))
    db = root / "baseline.db"
    stages = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.original_arch",
                "features",
                "--source",
                source,
                "--sink",
                features,
                "--group",
                source,
            ],
            cwd=REPO,
            env=env,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.original_arch",
                "models",
                "--source",
                features,
                "--group",
                features,
                "--db",
                str(db),
                "--models",
                str(trained_models()),
            ],
            cwd=REPO,
            env=env,
        ),
    ]
    try:
        _send_to(kafka.kwargs(), source, file)
        wait_for(lambda: db.exists() and _count(db) > 0, 120, "the baseline's first row")
        first, started = _count(db), time.monotonic()
        time.sleep(seconds)
        stored = _count(db) - first
        elapsed = time.monotonic() - started
    finally:
        for stage in stages:
            stage.terminate()
            stage.wait(30)
    return {"elapsed_s": elapsed, "ticks_per_s": stored / elapsed, **_latencies(f"sqlite:///{db}")}


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _send_to(kafka_kwargs: dict, topic: str, file: Path) -> None:
    from aiokafka import AIOKafkaProducer

    from flameback_app.feeds import load_replay_ticks

    async def send() -> None:
        producer = AIOKafkaProducer(**kafka_kwargs, linger_ms=5)
        await producer.start()
        try:
            for tick in load_replay_ticks(file, None)[0]:
                await producer.send(topic, key=tick.symbol.encode(), value=tick.to_json_bytes())
        finally:
            await producer.stop()

    asyncio.run(send())


def run(
    ticks: int | None = None, rate: float = 1000.0, latency_seconds: float = 20.0, baseline_seconds: float = 30.0
) -> list[dict]:
    """All end-to-end figures as rows of name / figure / baseline / ratio."""
    trained_models()
    full = tick_file(ticks)
    n_full = sum(1 for _ in full.open()) - 1
    paced = tick_file(int(rate * latency_seconds))
    with tempfile.TemporaryDirectory(prefix="flameback-bench-") as tmp:
        root = Path(tmp)
        sustained = _logged("sustained, packed feed", flameback_run(root / "sustained", full, n_full, None))
        single = _logged("sustained, 1 tick/message", flameback_run(root / "single", full, n_full, None, pack=1))
        two = _logged("sustained, 2 workers", flameback_run(root / "two", full, n_full, None, workers=2))
        paced_run = _logged("paced", flameback_run(root / "paced", paced, int(rate * latency_seconds), rate))
        base = _logged("baseline", baseline_run(root / "baseline", paced, baseline_seconds))
    return [
        {
            "name": f"end-to-end ticks/s ({n_full:,} ticks, full speed)",
            "figure": sustained["ticks_per_s"],
            "baseline": base["ticks_per_s"],
            "unit": "ticks/s",
            "better": "higher",
        },
        {
            "name": "end-to-end ticks/s, one tick per message",
            "figure": single["ticks_per_s"],
            "baseline": base["ticks_per_s"],
            "unit": "ticks/s",
            "better": "higher",
        },
        {
            "name": "end-to-end ticks/s, 2 workers (vs 1 worker)",
            "figure": two["ticks_per_s"],
            "baseline": sustained["ticks_per_s"],
            "unit": "ticks/s",
            "better": "higher",
        },
        {
            "name": f"tick→row p50 at {rate:,.0f}/s offered",
            "figure": paced_run.get("p50_ms"),
            "baseline": None,
            "unit": "ms",
            "better": "lower",
        },
        {
            "name": f"tick→row p99 at {rate:,.0f}/s offered",
            "figure": paced_run.get("p99_ms"),
            "baseline": None,
            "unit": "ms",
            "better": "lower",
        },
        {
            "name": "whole file replayed to rows",
            "figure": sustained["elapsed_s"],
            "baseline": None,
            "unit": "s",
            "better": "lower",
        },
        {
            "name": "worker peak RSS",
            "figure": max(r["rss_mb"] for r in (sustained, single, two, paced_run)),
            "baseline": None,
            "unit": "MiB",
            "better": "lower",
        },
    ]


def compare_databases(
    ticks: int | None = None, rate: float = 1000.0, latency_seconds: float = 20.0, repeat: int = 1
) -> list[dict]:
    """The packed full-speed run and the paced run on SQLite, then on PostgreSQL, ``repeat`` times (alternating).

    Rows: PostgreSQL's median beside SQLite's median (this machine is shared: the
    individual runs are logged on stderr to show the spread).
    """
    from statistics import median

    from tests.support.postgres import PostgresServer

    trained_models()
    full = tick_file(ticks)
    n_full = sum(1 for _ in full.open()) - 1
    n_paced = int(rate * latency_seconds)
    paced = tick_file(n_paced)
    runs: dict[str, list[dict[str, dict]]] = {"sqlite": [], "postgresql": []}
    with tempfile.TemporaryDirectory(prefix="flameback-bench-") as tmp, PostgresServer(durable=True) as server:
        root = Path(tmp)
        for rep in range(repeat):
            for kind, results in runs.items():
                pg = kind == "postgresql"
                results.append(
                    {
                        "sustained": _logged(
                            f"{kind} #{rep + 1}, sustained, packed feed",
                            flameback_run(
                                root / f"{kind}-{rep}-sustained",
                                full,
                                n_full,
                                None,
                                db_url=server.create_database(f"full_{rep}") if pg else None,
                            ),
                        ),
                        "paced": _logged(
                            f"{kind} #{rep + 1}, paced",
                            flameback_run(
                                root / f"{kind}-{rep}-paced",
                                paced,
                                n_paced,
                                rate,
                                db_url=server.create_database(f"paced_{rep}") if pg else None,
                            ),
                        ),
                    }
                )

    def med(kind: str, case: str, key: str) -> float | None:
        values = [r[case][key] for r in runs[kind] if r[case].get(key) is not None]
        return median(values) if values else None

    of = f", median of {repeat}" if repeat > 1 else ""
    rows = []
    for name, case, key, unit, better in (
        (f"end-to-end ticks/s, {n_full:,} ticks, packed", "sustained", "ticks_per_s", "ticks/s", "higher"),
        (f"tick→row p50 at {rate:,.0f}/s", "paced", "p50_ms", "ms", "lower"),
        (f"tick→row p99 at {rate:,.0f}/s", "paced", "p99_ms", "ms", "lower"),
        ("whole file to rows", "sustained", "elapsed_s", "s", "lower"),
        ("worker peak RSS", "sustained", "rss_mb", "MiB", "lower"),
    ):
        rows.append(
            {
                "name": f"PostgreSQL (vs SQLite): {name}{of}",
                "unit": unit,
                "better": better,
                "figure": med("postgresql", case, key),
                "baseline": med("sqlite", case, key),
            }
        )
    return rows


def baseline_tree(ref: str, into: Path) -> Path:
    """``ref``'s source tree, extracted with ``git archive`` (no checkout is touched)."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def compare_with_ref(
    ref: str, ticks: int | None = 60_000, latency_seconds: float = 15.0, rate: float = 1000.0
) -> list[dict]:
    """This tree against ``ref``'s code, case by case in one run (``ref`` first each time).

    Cases: one tick per message and packed at full speed, then paced one tick per
    message at 40 % of this tree's one-per-message capacity and at ``rate``; and the
    indicator engine's µs/tick, which places the machine.
    """
    trained_models()
    full = tick_file(ticks)
    n_full = sum(1 for _ in full.open()) - 1
    with tempfile.TemporaryDirectory(prefix="flameback-bench-") as tmp:
        root = Path(tmp)
        base_code = baseline_tree(ref, root / "baseline-code")

        def both(case: str, file: Path, n: int, pace: float | None, pack: int) -> tuple[dict, dict]:
            runs = {}
            for who, code in ((ref, base_code), ("this tree", REPO)):
                slug = f"{case}-{'base' if code is base_code else 'this'}".replace(" ", "-").replace("/", "-")
                runs[who] = _logged(
                    f"{case}, {who}", flameback_run(root / slug, file, n, pace, pack=pack, code_dir=code)
                )
            return runs["this tree"], runs[ref]

        single = both("1 tick/message", full, n_full, None, 1)
        packed = both("packed", full, n_full, None, 64)
        rate40 = max(100.0, int(0.4 * single[0]["ticks_per_s"] / 50) * 50.0)
        paced = {
            r: both(f"paced {r:.0f}/s", tick_file(int(r * latency_seconds)), int(r * latency_seconds), r, 1)
            for r in dict.fromkeys((rate40, rate))
        }
    rows = [
        _row(f"ticks/s, one tick per message ({n_full:,} ticks)", single, "ticks_per_s", "ticks/s", "higher"),
        _row(f"ticks/s, packed ({n_full:,} ticks)", packed, "ticks_per_s", "ticks/s", "higher"),
        _row("worker CPU per 1,000 ticks, one per message", single, "worker_cpu_ms_per_1000", "ms", "lower"),
        _row("  feed (replay --pack 1) CPU per 1,000 ticks", single, "feed_cpu_ms_per_1000", "ms", "lower"),
        _row("  broker (Tansu) CPU per 1,000 ticks", single, "broker_cpu_ms_per_1000", "ms", "lower"),
    ]
    for r, pair in paced.items():
        share = f" ({r / single[0]['ticks_per_s']:.0%} of capacity)"
        rows += [
            _row(f"tick→row p50 at {r:,.0f}/s, 1/message{share}", pair, "p50_ms", "ms", "lower"),
            _row(f"tick→row p99 at {r:,.0f}/s, 1/message{share}", pair, "p99_ms", "ms", "lower"),
        ]
    rows.append(
        {
            "name": "indicator engine µs/tick (places the machine)",
            "figure": engine_micros_per_tick(),
            "baseline": None,
            "unit": "µs",
            "better": "lower",
        }
    )
    return rows


def compare_retraining(ticks: int | None = 100_000, nice: int = 10, threads: int = 1, repeat: int = 1) -> list[dict]:
    """Packed full-speed throughput without a retrain and during one (``bench.retrain_load``), in one run.

    The retrain runs at ``nice``/``threads`` (the worker's defaults, FLAMEBACK_TRAINING_NICE
    and FLAMEBACK_TRAINING_THREADS), and also at the worker's own priority with 2 threads
    (what the limits buy). The three cases alternate ``repeat`` times; rows give the
    medians (each run is logged on stderr: this machine is shared, the spread shows).
    """
    from statistics import median

    trained_models()
    file, load = tick_file(ticks), tick_file(40_000)
    n = sum(1 for _ in file.open()) - 1
    cases = {
        "no retrain": None,
        f"retrain at nice {nice}, {threads} thread(s)": (nice, threads),
        "retrain at nice 0, 2 threads": (0, 2),
    }
    figures: dict[str, list[float]] = {case: [] for case in cases}
    with tempfile.TemporaryDirectory(prefix="flameback-bench-") as tmp:
        for rep in range(repeat):
            for k, (case, limits) in enumerate(cases.items()):
                root = Path(tmp) / f"{rep}-{k}"
                result = (
                    flameback_run(root, file, n, None)
                    if limits is None
                    else _during_retrain(root, file, n, load, *limits)
                )
                figures[case].append(_logged(f"packed, {case}", result)["ticks_per_s"])
    quiet = median(figures["no retrain"])
    return [
        {
            "name": f"end-to-end ticks/s ({n:,} ticks, packed), {case}" if limits is None else f"… {case} vs none",
            "figure": median(figures[case]),
            "baseline": None if limits is None else quiet,
            "unit": "ticks/s",
            "better": "higher",
        }
        for case, limits in cases.items()
    ]


def _during_retrain(root: Path, file: Path, n: int, load: Path, nice: int, threads: int) -> dict:
    """:func:`flameback_run` while ``bench.retrain_load`` trains over and over on ``load``'s ticks."""
    root.mkdir(parents=True, exist_ok=True)
    ready, log = root / "retrain.ready", root / "retrain.log"
    with log.open("w") as err:
        trainer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.retrain_load",
                str(load),
                "--ready",
                str(ready),
                "--nice",
                str(nice),
                "--threads",
                str(threads),
            ],
            cwd=REPO,
            stderr=err,
        )
        try:
            wait_for(lambda: ready.exists() or trainer.poll() is not None, 300, "the retrain to start training")
            if trainer.poll() is not None:
                raise RuntimeError(f"the retrain process exited ({trainer.returncode}): {log.read_text()[-2000:]}")
            cpu_before = _cpu_s(trainer.pid)
            result = flameback_run(root, file, n, None)
            result["retrain_cpu_s"] = _cpu_s(trainer.pid) - cpu_before
        finally:
            trainer.terminate()
            trainer.wait(30)
    result["retrains_finished"] = log.read_text().count("done in")
    return result


def _row(name: str, pair: tuple[dict, dict], key: str, unit: str, better: str) -> dict:
    return {"name": name, "figure": pair[0].get(key), "baseline": pair[1].get(key), "unit": unit, "better": better}


def engine_micros_per_tick(ticks: int = 200_000) -> float:
    """The indicator engine's CPU µs/tick over 39 symbols (``bench.indicators``' figure, fewer repeats)."""
    from bench.indicators import load_ticks, micros_per_tick, run_engine

    return micros_per_tick(run_engine, load_ticks(ticks)[1], repeats=3)


def profile_one_per_message(out: Path, ticks: int, ref: str | None) -> None:
    """Record the worker with py-spy through a one-tick-per-message run of ``ticks`` ticks; print the summary.

    With ``ref``, the same for ``ref``'s code first, into ``<out>.<ref>``.
    """
    trained_models()
    file = tick_file(ticks)
    n = sum(1 for _ in file.open()) - 1
    with tempfile.TemporaryDirectory(prefix="flameback-bench-") as tmp:
        root = Path(tmp)
        trees = [(ref, baseline_tree(ref, root / "baseline-code"), out.with_name(f"{out.name}.{ref}"))] if ref else []
        for who, code, raw in [*trees, ("this tree", REPO, out)]:
            result = _logged(
                f"profiled, {who}",
                flameback_run(
                    root / f"profile-{who}".replace(" ", "-"), file, n, None, pack=1, code_dir=code, profile=raw
                ),
            )
            print(
                f"\n== {who}: {result['ticks_per_s']:,.0f} ticks/s under py-spy, worker CPU "
                f"{result['worker_cpu_ms_per_1000']:,.0f} ms per 1,000 ticks ({raw})"
            )
            print(summarise(raw, n))
            print("  by stage (ms per 1,000 ticks):")
            print("\n".join(f"    {ms:8.1f}  {stage}" for stage, ms in by_stage(raw, n).items()))


def _logged(what: str, result: dict) -> dict:
    print(f"{what}: {result}", file=sys.stderr, flush=True)
    return result


def print_table(rows: list[dict]) -> None:
    width = max(46, *(len(r["name"]) + 2 for r in rows))
    print(f"{'benchmark':<{width}}{'figure':>17}{'baseline':>17}{'ratio':>9}")
    for r in rows:
        ratio = ""
        if r.get("baseline") and r.get("figure"):
            value = r["figure"] / r["baseline"] if r["better"] == "higher" else r["baseline"] / r["figure"]
            ratio = f"{value:.1f}x"
        fig = "-" if r["figure"] is None else f"{r['figure']:,.1f} {r['unit']}"
        base = "-" if r.get("baseline") is None else f"{r['baseline']:,.1f} {r['unit']}"
        print(f"{r['name']:<{width}}{fig:>17}{base:>17}{ratio:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--ticks", type=int, default=None, help="ticks for the full-speed run (default: the whole file)"
    )
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--baseline-seconds", type=float, default=30.0)
    parser.add_argument(
        "--databases", action="store_true", help="compare PostgreSQL (a throwaway local server) with SQLite instead"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="--databases: runs per database; --retrain: runs per case; alternating"
    )
    parser.add_argument(
        "--baseline-ref", metavar="REF", help="compare with REF's code (git archive), case by case in this run"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        type=Path,
        help="py-spy the worker through a one-tick-per-message run (--ticks, default 20,000)",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="packed full-speed ticks/s without and during a retrain, in one run (--ticks, default 100,000)",
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    if args.retrain:
        print_table(compare_retraining(args.ticks or 100_000, repeat=args.repeat))
    elif args.profile:
        profile_one_per_message(args.profile, args.ticks or 20_000, args.baseline_ref)
    elif args.baseline_ref:
        print_table(compare_with_ref(args.baseline_ref, args.ticks or 60_000, args.latency_seconds, args.rate))
    elif args.databases:
        print_table(compare_databases(args.ticks, args.rate, args.latency_seconds, args.repeat))
    else:
        print_table(run(args.ticks, args.rate, args.latency_seconds, args.baseline_seconds))


if __name__ == "__main__":
    main()
