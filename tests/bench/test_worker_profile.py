"""bench.worker_profile.by_stage: py-spy samples grouped by pipeline stage, per 1,000 ticks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.worker_profile import SAMPLE_RATE, by_stage

LOOP = "_run_module_as_main (<frozen runpy>:198);Worker.execute_from_commandline (mode/worker.py:264)"
THREAD = "Thread._bootstrap (threading.py:1002);Thread._bootstrap_inner (threading.py:1045)"
SAMPLES = {
    f"{LOOP};ingest (agents/ingest.py:47);process_ticks (agents/indicators.py:69);"
    "_publish_features (agents/indicators.py:140);dumps (json/__init__.py:238)": 10,
    f"{LOOP};ingest (agents/ingest.py:47);process_ticks (agents/indicators.py:66);_advance (agents/indicators.py:99)": 4,
    f"{LOOP};ingest (agents/ingest.py:40);parse_message (core/validation.py:10)": 2,
    f"{LOOP};Consumer._drain_messages (transport/consumer.py:1200)": 6,
    LOOP: 3,
    f"{THREAD};_worker (concurrent/futures/thread.py:93);_WorkItem.run (concurrent/futures/thread.py:59);"
    "SignalEngine.predict (models/live.py:90)": 8,
    f"{THREAD};_worker (concurrent/futures/thread.py:81)": 5,
    f"{THREAD};WorkerThread.run (mode/threads.py:66);Consumer.getmany (aiokafka/consumer.py:1)": 7,
}


def test_samples_are_grouped_by_stage_as_ms_per_1000_ticks(tmp_path: Path) -> None:
    raw = tmp_path / "worker.raw"
    raw.write_text("".join(f"{stack} {count}\n" for stack, count in SAMPLES.items()) + "garbage line\n")
    ticks = 2_000
    ms_per_sample = 1000.0 / SAMPLE_RATE * 1000.0 / ticks
    stages = by_stage(raw, ticks)
    expected = {
        "event loop: feature rows to real-features-ticks": 10,
        "event loop: state steps (_advance)": 4,
        "event loop: ingest (parsing, batch hand-off)": 2,
        "event loop: Faust, mode and aiokafka per-message plumbing and asyncio": 6,
        "event loop: the loop itself (select or uvloop's C code), idle included": 3,
        "executor: model inference": 8,
        "executor: wake-ups and idle": 5,
        "Faust's consumer thread (and any other thread)": 7,
    }
    assert stages == {stage: pytest.approx(n * ms_per_sample) for stage, n in expected.items()}
    assert sum(stages.values()) == pytest.approx(sum(SAMPLES.values()) * ms_per_sample)
