"""Where a worker's CPU goes, per 1,000 ticks: py-spy samples of the worker process, summarised.

``bench.pipeline --profile FILE`` records the worker with py-spy (raw collapsed stacks,
``FILE``) while it processes a one-tick-per-message run, and prints the functions that
hold the most samples as milliseconds of worker time per 1,000 ticks — the figure to
compare across commits, since it does not depend on how busy the machine was, and the
same samples grouped by stage (:func:`by_stage`: the event loop's plumbing, our own steps,
the executor's inference and database writes, Faust's consumer thread).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLE_RATE = 250  # samples/s; py-spy's default is 100 (too coarse for a 10–30 s run)
# Frames every sample of a thread passes through (process start, the CLI, the event loop, thread
# start): listing them by inclusive time says nothing, so they are left out of that list.
ROOT_FILES = (
    "<frozen runpy>",
    "click/core.py",
    "click/decorators.py",
    "cli/base.py",
    "mode/worker.py",
    "faust/__main__.py",
    "threading.py",
    "asyncio/base_events.py",
    "asyncio/events.py",
)


class PySpyRecorder:
    """``py-spy record`` attached to a running process until :meth:`stop` (SIGINT makes it write the file)."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(SAMPLE_RATE),
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def summarise(raw: Path, ticks: int, top: int = 18) -> str:
    """The ``top`` functions by inclusive and by self samples, as ms of worker time per 1,000 ticks."""
    inclusive, own, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    per_1000 = 1000.0 / SAMPLE_RATE * 1000.0 / ticks  # ms per sample, scaled to 1,000 ticks
    lines = [
        f"py-spy: {total:,} samples at {SAMPLE_RATE}/s = {total * per_1000:,.0f} ms of worker time per 1,000 ticks"
    ]
    for name in [name for name in inclusive if name.endswith(tuple(f"({root})" for root in ROOT_FILES))]:
        del inclusive[name]
    for title, counts in (("inclusive", inclusive), ("self", own)):
        lines.append(f"  top {top} by {title} time (ms per 1,000 ticks):")
        lines += [f"    {n * per_1000:8.1f}  {name}" for name, n in counts.most_common(top)]
    return "\n".join(lines)


def _function(frame: str) -> str:
    """``func (path/to/module.py:123)`` → ``func (module.py)``: one entry per function, not per line."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    return f"{name} ({'/'.join(parts[-2:])})" if parts else name


# (stage, what a sample's stack must contain), first match wins; see by_stage.
EXECUTOR_STAGES = (
    ("executor: model inference", "SignalEngine.predict"),
    ("executor: predictions insert", "insert_predictions"),
    ("executor: scoreboard upsert", "upsert_scoreboard"),
    ("executor: alerts insert", "insert_alerts"),
)
PIPELINE_STAGES = (
    ("event loop: feature rows to real-features-ticks", "_publish_features"),
    ("event loop: scoring, alerts, row building (predict_and_store)", "predict_and_store"),
    ("event loop: table writes (RocksDB + changelog)", "_store ("),
    ("event loop: state steps (_advance)", "_advance"),
    ("event loop: table reads (scoreboard)", "process_ticks.<locals>.<dictcomp>"),
    ("event loop: process_ticks, other", "process_ticks ("),
    ("event loop: ingest (parsing, batch hand-off)", "ingest ("),
)
LOOP_ITSELF = ("EpollSelector.select", "Worker.execute_from_commandline")


def by_stage(raw: Path, ticks: int) -> dict[str, float]:
    """Samples grouped by pipeline stage, as ms per 1,000 ticks (threads add up, so the sum exceeds CPU time).

    The executor thread (inference and database writes, ``futures/thread.py``) and the
    other threads (Faust's consumer thread) are told apart from the event loop by the
    stack's first frames. A loop sample whose innermost frame is the selector, or on
    uvloop the loop's entry point (py-spy cannot see into its C code), is "the loop
    itself", idle included.
    """
    per_1000 = 1000.0 / SAMPLE_RATE * 1000.0 / ticks
    stages: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            stages[_stage(stack)] += int(count_text)
    return {stage: count * per_1000 for stage, count in sorted(stages.items())}


def _stage(stack: str) -> str:
    frames = stack.split(";")
    if "futures/thread.py" in stack:
        return next((stage for stage, marker in EXECUTOR_STAGES if marker in stack), "executor: wake-ups and idle")
    if any("_bootstrap" in frame for frame in frames[:2]):
        return "Faust's consumer thread (and any other thread)"
    if frames[-1].startswith(LOOP_ITSELF) or "EpollSelector.select" in frames[-1]:
        return "event loop: the loop itself (select or uvloop's C code), idle included"
    return next(
        (stage for stage, marker in PIPELINE_STAGES if marker in stack),
        "event loop: Faust, mode and aiokafka per-message plumbing and asyncio",
    )
