"""Start-up order and stopping: every client waits for the broker, and nothing outlives a stop.

The Procfile starts the broker, the worker, the feed and the terminal together, so any of
them may come up before the broker answers; and a Ctrl-C must leave no process behind
(a Tansu left running holds the port for the next start). Real processes throughout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.support.harness import FAUST, REPO, Broker, Stack, free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _feed(stack: Stack, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*FAUST, "simulate", "--no-progress", *args],
        cwd=REPO,
        env=stack.env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_feed_started_before_the_broker_waits_then_sends(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "tansu.log")  # port chosen, not started yet
    stack = Stack(root=tmp_path, broker=broker, app_id="fb-feed-wait")
    feed = _feed(stack, "--symbols", "WAIT1 Index", "--rounds", "40", "--rate", "400")
    try:
        time.sleep(4)  # the feed is importing, then waiting
        assert feed.poll() is None, feed.communicate()
        broker.start()
        _, err = feed.communicate(timeout=60)
        assert feed.returncode == 0, err
        assert "waiting up to 60s for the Kafka broker at" in err
        assert "sent 40 ticks" in err
    finally:
        if feed.poll() is None:
            feed.kill()
        broker.stop()


def test_a_feed_without_a_broker_gives_up_in_one_line(tmp_path: Path) -> None:
    stack = Stack(root=tmp_path, broker=Broker(tmp_path / "never.log"), app_id="fb-no-broker")
    started = time.monotonic()
    feed = _feed(stack, "--rounds", "5", FLAMEBACK_BROKER_WAIT_S="3")
    _, err = feed.communicate(timeout=60)
    assert feed.returncode == 1
    lines = err.strip().splitlines()
    assert lines[-1].startswith("Error: no Kafka broker answered at 127.0.0.1:") and "within 3s" in lines[-1], err
    assert len(lines) == 2 and "waiting up to 3s" in lines[0], err  # what it waits for, then why it stopped
    assert time.monotonic() - started < 30


def tansu_on(port: int) -> list[psutil.Process]:
    """Tansu processes started for ``port`` (by their command line)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any("tansu" in part for part in cmdline[:4]) and any(f":{port}" in part for part in cmdline):
            found.append(proc)
    return found


def _when_importing(command: subprocess.Popen, port: int) -> None:
    time.sleep(0.5)


def _when_tansu_started(command: subprocess.Popen, port: int) -> None:
    """Right after Tansu was spawned: the command is still waiting for it to answer."""
    wait_for(lambda: tansu_on(port), 30, "Tansu to be spawned", interval=0.01)


def _when_ready(command: subprocess.Popen, port: int) -> None:
    assert command.stderr is not None
    assert "broker ready" in command.stderr.readline()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize(
    "moment",
    [_when_importing, _when_tansu_started, _when_ready],
    ids=["while-importing", "during-start-up", "after-ready"],
)
def test_stopping_the_broker_command_at_any_moment_stops_its_tansu(tmp_path: Path, sig: signal.Signals, moment) -> None:
    """No Tansu survives its ``broker`` command, whenever the signal comes; the port is free again."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLAMEBACK_")},
        "FLAMEBACK_BROKER": f"kafka://127.0.0.1:{port}",
        "FLAMEBACK_DATA_DIR": str(tmp_path),
    }
    command = subprocess.Popen([*FAUST, "broker"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    moment(command, port)
    command.send_signal(sig)
    command.wait(15)
    wait_for(lambda: not tansu_on(port), 10, f"Tansu on :{port} to stop")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # free again


def test_a_worker_stops_within_10s_of_sigterm_whether_or_not_its_broker_is_up(stack: Stack) -> None:
    # 1. still waiting for a broker that never came
    waiting = Stack(root=stack.root / "waiting", broker=Broker(stack.root / "never.log"), app_id="fb-never")
    waiting.root.mkdir()
    proc = waiting.start_worker()
    wait_for(lambda: "for the Kafka broker at" in (waiting.root / "worker-w1.log").read_text(), 60, "waiting")
    seconds = _seconds_to_stop(proc)
    print(f"\nworker waiting for its broker stopped {seconds:.1f}s after SIGTERM")
    assert seconds < 10
    # 2. running, then its broker gone (killed outright, as a crash would)
    proc = stack.start_worker()
    stack.wait_assigned()
    stack.run_command("simulate", "--symbols", "GONE1 Index", "--rounds", "50", "--rate", "500", "--no-progress")
    stack.wait_rows(50, timeout=60)
    stack.broker.proc.kill()
    stack.broker.proc.wait()
    stack.broker.proc = None
    time.sleep(2)
    seconds = _seconds_to_stop(proc)
    print(f"worker whose broker was killed stopped {seconds:.1f}s after SIGTERM")
    assert seconds < 10


def _seconds_to_stop(proc: subprocess.Popen) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    return time.monotonic() - started
