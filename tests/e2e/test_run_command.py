"""The README's run command as a new user meets it: a fresh clone, `bash scripts/run.sh`, Ctrl-C, and again.

For each layout — nothing beside the clone (the feed simulates a market) and the market
data file beside it (the feed replays it) — the test sets up and starts the whole system
with the command itself, waits until the terminal serves rows for a symbol, ``/health/``
says ok and rows keep arriving, then sends SIGINT as a terminal's Ctrl-C does and checks
that every process of the Procfile and every child of theirs (Tansu included) exited
within 10 s, the ports are free and nothing was left half-written. Then it runs the
command a second time on the same directory (state and database present), with the
same checks. The first run without market data also measures the first-run experience:
first row and first model call (instead of TRAINING) after setup.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import pytest

from tests.support.harness import REAL_FILE, REPO, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

PORTS = {"broker": 9092, "worker web": 6066, "terminal": 8050}  # the embedded defaults run.sh uses
TERMINAL = f"http://127.0.0.1:{PORTS['terminal']}"
HEALTH = f"http://127.0.0.1:{PORTS['worker web']}/health/"
FIRST_ROW_AFTER_SETUP_S = 30
FIRST_MODEL_CALL_AFTER_SETUP_S = 180


def fresh_clone(dest: Path) -> Path:
    """The checkout as `git clone` gives it: tracked files (as they are now) and nothing ignored — no
    .venv/, no data/*.db, no models/artifacts/."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def market_data_beside(clone: Path) -> None:
    """../shared/data beside the clone: the real file where this machine has it, else one of the same layout."""
    data = clone.parent / "shared" / "data"
    data.mkdir(parents=True)
    target = data / REAL_FILE.name
    if REAL_FILE.exists():
        target.symlink_to(REAL_FILE)
        return
    lines = ["Dates,ES1 Index,CL1 Comdty,GC1 Comdty"]
    for day in range(400):
        lines.append(
            f"{1 + day // 28 % 12:02d}/{1 + day % 28:02d}/{2001 + day // 336},"
            f"{1300 + day % 37},{25 + day % 11 / 3:.2f},{270 + day % 17}"
        )
    target.write_text("\n".join(lines) + "\n")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.load(resp)
    except OSError:
        return None


def call_dash(output: str, inputs: dict[str, object]) -> dict:
    """Run the terminal's callback that produces ``output`` ("id.property") through Dash's own HTTP
    protocol, as the page would, with ``inputs`` ("id.property" → value; others None)."""
    with urllib.request.urlopen(f"{TERMINAL}/_dash-dependencies", timeout=10) as resp:
        callbacks = json.load(resp)
    spec = next(c for c in callbacks if output in c["output"].strip(".").split("..."))

    def values(items: list[dict]) -> list[dict]:
        return [{**i, "value": inputs.get(f"{i['id']}.{i['property']}")} for i in items]

    outputs = [
        dict(zip(("id", "property"), o.rsplit(".", 1), strict=True)) for o in spec["output"].strip(".").split("...")
    ]
    body = {
        "output": spec["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": values(spec["inputs"]),
        "state": values(spec["state"]),
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec["inputs"]],
    }
    request = urllib.request.Request(
        f"{TERMINAL}/_dash-update-component",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)["response"]


def terminal_rows() -> tuple[str, int] | None:
    """(a symbol, how many price points the terminal draws for it), or None while it has none."""
    try:
        picker = call_dash("symbol-picker.options", {"symbols-interval.n_intervals": 1})["symbol-picker"]
        options = picker.get("options") or []  # the overview is the first screen: no symbol is chosen for us
        symbol = picker.get("value") or (options[0]["value"] if options else None)
        if not symbol:
            return None
        view = call_dash("linked-chart.figure", {"refresh-interval.n_intervals": 1, "symbol-picker.value": symbol})
    except (OSError, StopIteration, KeyError, ValueError):
        return None
    traces = view.get("linked-chart", {}).get("figure", {}).get("data") or []
    price = next((t for t in traces if t.get("name") == "Price"), None)
    points = _length(price.get("x")) if price else 0
    return (symbol, points) if points else None


def _length(values: object) -> int:
    """How many values a figure array holds: a JSON list, or Plotly's base64 typed-array form."""
    if isinstance(values, dict) and "bdata" in values:
        return int(np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).size)
    return len(values) if isinstance(values, list) else 0


def row_counts(db: Path) -> tuple[int, int]:
    """(rows, rows with a model call instead of TRAINING) in the clone's database, read-only."""
    if not db.exists():
        return 0, 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE XGBoost IN ('UP', 'DOWN')) FROM predictions"
            ).fetchone()
    except sqlite3.OperationalError:  # schema not created yet
        return 0, 0
    return rows


@dataclass
class RunCommand:
    """``bash scripts/run.sh`` in a clone, in its own process group (as in a terminal), with its log."""

    clone: Path
    log: Path
    proc: subprocess.Popen = field(init=False)
    started: float = field(init=False)

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLAMEBACK_")}
        self.started = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["bash", "scripts/run.sh"],
                cwd=self.clone,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> None:
        assert self.proc.poll() is None, f"run.sh ended (rc={self.proc.returncode}):\n{self.text()[-3000:]}"

    def tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def kill(self) -> None:
        """After a failed check: nothing of this run may outlive the test."""
        if self.proc.poll() is None:
            processes = self.tree()
            os.killpg(self.proc.pid, signal.SIGINT)
            _, alive = psutil.wait_procs(processes, timeout=15)
            for proc in alive:
                proc.kill()

    def ctrl_c(self) -> dict[psutil.Process, str]:
        """SIGINT to the command's process group, like Ctrl-C; returns the processes running then, with their names."""
        processes = {p: " ".join(p.cmdline()[:4]) for p in self.tree()}
        os.killpg(self.proc.pid, signal.SIGINT)
        return processes


def wait_serving(run: RunCommand, db: Path, setup_timeout: float) -> dict[str, float]:
    """Wait for setup, a served row, health ok and rows still arriving; returns timings (s)."""
    wait_for(lambda: run.alive() or "setup: ready" in run.text(), setup_timeout, "setup to finish")
    ready = time.monotonic()
    wait_for(lambda: run.alive() or row_counts(db)[0], 120, "the first row in the database")
    first_row = time.monotonic()
    served = wait_for(lambda: run.alive() or terminal_rows(), 60, "the terminal to serve rows for a symbol")
    wait_for(
        lambda: run.alive() or ((h := get_json(HEALTH)) and h["status"] == "ok" and h["assigned"]),
        60,
        "/health/ to say ok, with partitions assigned",
    )
    before = row_counts(db)[0]
    wait_for(lambda: run.alive() or row_counts(db)[0] > before + 50, 60, "rows to keep arriving")
    print(
        f"  setup {ready - run.started:.1f}s; first row {first_row - ready:.1f}s after setup; "
        f"terminal serves {served[1]} points of {served[0]!r}"
    )
    return {"setup_s": ready - run.started, "first_row_s": first_row - ready, "ready": ready}


def stop_and_check(run: RunCommand, db: Path) -> float:
    """Ctrl-C; every process (Tansu included) gone within 10 s, ports free, nothing half-written."""
    processes = run.ctrl_c()
    assert any("tansu" in name for name in processes.values()), processes  # the broker's child, to be stopped
    started = time.monotonic()
    _, alive = psutil.wait_procs(list(processes), timeout=10)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"still running 10 s after Ctrl-C: {[processes[p] for p in alive]}"
    stopped_in = time.monotonic() - started
    run.proc.wait(5)
    assert all(port_free(port) for port in PORTS.values()), {n: port_free(p) for n, p in PORTS.items()}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not list(run.clone.rglob("*.partial")), "a half-written file was left behind"
    assert "Traceback" not in run.text(), run.text()[-3000:]
    print(f"  every process stopped {stopped_in:.1f}s after Ctrl-C; ports free; database intact")
    return stopped_in


@pytest.mark.parametrize("layout", ["without-market-data", "with-market-data"])
def test_the_readme_run_command_on_a_fresh_clone_twice(tmp_path: Path, layout: str) -> None:
    taken = [name for name, port in PORTS.items() if not port_free(port)]
    assert not taken, f"the run command's ports are taken ({taken}): is Flameback already running here?"
    clone = fresh_clone(tmp_path / "flameback")
    if layout == "with-market-data":
        market_data_beside(clone)
    db = clone / "data" / "flameback.db"

    print(f"\n{layout}, first run (fresh clone):")
    with running(clone, tmp_path / "first-run.log") as run:
        timings = wait_serving(run, db, setup_timeout=900)
        assert timings["first_row_s"] <= FIRST_ROW_AFTER_SETUP_S
        if layout == "without-market-data":  # the first-run experience: no models, no market data
            wait_for(lambda: run.alive() or row_counts(db)[1], FIRST_MODEL_CALL_AFTER_SETUP_S, "a model call")
            print(f"  first model call (not TRAINING) {time.monotonic() - timings['ready']:.1f}s after setup")
        stop_and_check(run, db)
    rows_after_first = row_counts(db)[0]
    if layout == "with-market-data":
        return  # the restart on a used directory does not depend on where the ticks come from: checked once, below

    print(f"{layout}, second run (same directory: state and database present):")
    with running(clone, tmp_path / "second-run.log") as run:
        wait_serving(run, db, setup_timeout=300)
        assert row_counts(db)[0] > rows_after_first
        stop_and_check(run, db)


@contextmanager
def running(clone: Path, log: Path) -> Iterator[RunCommand]:
    run = RunCommand(clone, log)
    try:
        yield run
    finally:
        run.kill()
